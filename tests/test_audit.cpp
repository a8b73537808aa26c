// `adamconf audit`: the safetensors reader on well-formed and malformed
// files, the manifest, and recorded steps judged element by element: a
// correct step (builtin:float's) passes in every thread count, shard and
// window; a stale state past element 65536, a skipped decay, a tensor
// without a gradient that moved and a step count that did not advance fail,
// naming the tensor and the element; a file that disagrees with the
// manifest is one line naming the file and the tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "adamconf/atomic_file.hpp"
#include "adamconf/audit.hpp"
#include "adamconf/float_adam.hpp"
#include "adamconf/safetensors.hpp"
#include "adamconf/structure_generators.hpp"

namespace adamconf {
namespace {

namespace st = safetensors;

std::string bytes_of(const std::string& header, const std::string& data = "") {
  const std::uint64_t n = header.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + header + data;
}

/// The one-line message parsing `bytes` throws (empty when it parses).
std::string parse_error(const std::string& bytes) {
  try {
    st::View(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "f.safetensors");
  } catch (const st::FileError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTripsEveryFloatTypeExactly) {
  const double tiny16 = std::ldexp(1.0, -24), tinyb = std::ldexp(1.0, -133);
  const std::vector<st::TensorData> tensors = {
      {.name = "a", .dtype = st::DType::F32, .values = {1.5, -0.0, std::ldexp(1.0, -149), 3.4028234663852886e38}},
      {.name = "b", .dtype = st::DType::BF16, .values = {tinyb, -2.0, 1.0 + 1.0 / 128}, .shape = {{3, 1}}},
      {.name = "c", .dtype = st::DType::F16, .values = {tiny16, 65504.0, -1.0 - 1.0 / 1024, std::ldexp(1.0, -14)}},
      {.name = "d", .dtype = st::DType::F64, .values = {0.1, std::numeric_limits<double>::infinity()}},
      {.name = "step", .dtype = st::DType::I64, .values = {16777217}, .shape = std::vector<std::uint64_t>{}}};
  const std::string bytes = st::serialize(tensors, {{"format", "pt"}});
  const st::View v(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "x");
  for (const auto& t : tensors) {
    const st::TensorInfo& info = v.at(t.name);
    EXPECT_EQ(info.dtype, t.dtype);
    ASSERT_EQ(info.elements, t.values.size()) << t.name;
    for (std::size_t i = 0; i < t.values.size(); ++i) EXPECT_EQ(v.value(info, i), t.values[i]) << t.name << " " << i;
  }
  EXPECT_TRUE(v.at("step").shape.empty());
  EXPECT_EQ(v.metadata().at("format"), "pt");
  EXPECT_EQ(v.find("nothing"), nullptr);
  EXPECT_THROW(st::serialize({{.name = "x", .dtype = st::DType::BF16, .values = {0.1}}}), std::invalid_argument);
}

TEST(Safetensors, RefusesMalformedFilesInOneLineNamingFileAndTensor) {
  const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_EQ(parse_error(bytes_of(ok, std::string(8, '\0'))), "");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"abc", "f.safetensors: is 3 bytes long"},
      {bytes_of(ok, std::string(7, '\0')), "tensor 'w': data_offsets [0, 8] run past the data's 7 bytes"},
      {bytes_of(ok, std::string(9, '\0')), "bytes [8, 9) of the data belong to no tensor"},
      {bytes_of(ok).substr(0, 20), "header length 54 runs past the end of the file"},
      {std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}", "exceeds safetensors' limit"},
      {bytes_of("{\"w\":"), "header is not JSON"},
      {bytes_of("[1]"), "header is [1], not a JSON object"},
      {bytes_of(R"({"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", "1234"), "tensor 'w': unknown dtype \"F33\""},
      {bytes_of(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, 0)),
       "tensor 'w': data_offsets [0, 8] hold 8 bytes; its shape [3] of F32 needs 12"},
      {bytes_of(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}})", std::string(8, 0)), "not a size"},
      {bytes_of(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", std::string(8, 0)),
       "overflows"},
      {bytes_of(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", std::string(8, 0)), "run backwards"},
      {bytes_of(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                std::string(8, 0)),
       "tensor 'b': data_offsets [4, 8] overlap tensor 'a''s"},
      {bytes_of(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", std::string(8, 0)),
       "bytes [0, 4) of the data belong to no tensor (before 'w')"},
      {bytes_of(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}})", std::string(4, 0)), "unknown field 'extra'"},
      {bytes_of(R"({"__metadata__":{"a":1}})"), "__metadata__ 'a' is 1, not a string"},
  };
  for (const auto& [bytes, expected] : cases) {
    const std::string e = parse_error(bytes);
    EXPECT_NE(e.find(expected), std::string::npos) << "got: " << e << "\nexpected: " << expected;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    EXPECT_EQ(e.rfind("f.safetensors: ", 0), 0u) << e;
  }
}

/// tests/data/two-arrays.npz (np.savez of theta/w: float32 [1.5, -2, 0.25] and m/w: float64 [[0.5, 1], [2, 4]]),
/// with the last `from` replaced by `to` (same length) when given.
std::string npz_bytes(const std::string& from = "", const std::string& to = "") {
  std::ifstream in(std::string(ADAMCONF_SOURCE_DIR) + "/tests/data/two-arrays.npz", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!from.empty()) {
    const auto at = bytes.rfind(from);  // the last: m/w's where both arrays have it
    if (at == std::string::npos || from.size() != to.size()) throw std::logic_error("no " + from);
    bytes.replace(at, from.size(), to);
  }
  return bytes;
}

std::string npz_error(const std::string& bytes) {
  try {
    st::read_npz(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), "f.npz");
  } catch (const st::FileError& e) {
    return e.what();
  }
  return "";
}

TEST(Npz, ReadsNumpysStoredArraysInPlace) {
  const std::string bytes = npz_bytes();
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  ASSERT_TRUE(st::is_zip(p, bytes.size()));
  const st::View v = st::read_npz(p, bytes.size(), "f.npz");
  const st::TensorInfo& theta = v.at("theta/w");
  EXPECT_EQ(theta.dtype, st::DType::F32);
  EXPECT_EQ(v.value(theta, 0), 1.5);
  EXPECT_EQ(v.value(theta, 2), 0.25);
  const st::TensorInfo& m = v.at("m/w");
  EXPECT_EQ(m.shape, (std::vector<std::uint64_t>{2, 2}));
  EXPECT_EQ(v.value(m, 3), 4.0);
}

TEST(Npz, RefusesWhatItCannotReadInPlaceInOneLineNamingTheEntry) {
  const std::string ok = npz_bytes();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {ok.substr(0, ok.size() - 10), "no end of central directory record"},
      {ok.substr(0, 15), "too short for a ZIP archive"},
      {npz_bytes("'<f4'", "'>f4'"), "entry 'theta/w.npy': dtype '>f4'"},
      {npz_bytes("'<f8'", "'<c8'"), "entry 'm/w.npy': dtype '<c8'"},
      {npz_bytes("'fortran_order': False", "'fortran_order': True "), "entry 'm/w.npy': Fortran order"},
      {npz_bytes("(3,)", "(4,)"), "entry 'theta/w.npy': holds 12 bytes of data; its shape needs 16"},
      {npz_bytes("(2, 2)", "(2, x)"), "is not a tuple of sizes"},
      {npz_bytes("\x93NUMPY\x01", "\x93NUMPX\x01"), "not an .npy array"},
      {npz_bytes("theta/w.npyPK", "theta/w.npzPK"), "entry 'theta/w.npz' is not an .npy array"},
  };
  for (const auto& [bytes, expected] : cases) {
    const std::string e = npz_error(bytes);
    EXPECT_NE(e.find(expected), std::string::npos) << "got: " << e << "\nexpected: " << expected;
    EXPECT_EQ(e.rfind("f.npz: ", 0), 0u) << e;
  }
  // The method field of the first central directory entry set to 8 (deflate: read through inflate_npz, not in
  // place) and to 12 (bzip2: not read at all).
  std::string compressed = ok;
  const auto cd = compressed.find("PK\x01\x02");
  ASSERT_NE(cd, std::string::npos);
  compressed[cd + 10] = 8;
  EXPECT_NE(npz_error(compressed).find("entry 'theta/w.npy' is compressed (np.savez_compressed)"), std::string::npos)
      << npz_error(compressed);
  compressed[cd + 10] = 12;
  EXPECT_NE(npz_error(compressed).find("entry 'theta/w.npy' is compressed by method 12 (read: stored"), std::string::npos)
      << npz_error(compressed);
}

/// tests/data/two-arrays-compressed.npz: the same two arrays as np.savez_compressed writes them (deflated, ZIP64 sizes).
std::string compressed_npz_bytes() {
  std::ifstream in(std::string(ADAMCONF_SOURCE_DIR) + "/tests/data/two-arrays-compressed.npz", std::ios::binary);
  return {(std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()};
}

/// The message reading `bytes` as a compressed archive throws (inflated into memory), "" when it reads.
std::string inflate_error(const std::string& bytes) {
  try {
    const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
    std::string inflated;
    const auto entries = st::inflate_npz(p, bytes.size(), "f.npz", [&](const std::uint8_t* q, std::size_t n) {
      inflated.append(reinterpret_cast<const char*>(q), n);
    });
    st::read_inflated_npz(reinterpret_cast<const std::uint8_t*>(inflated.data()), inflated.size(), entries, "f.npz");
  } catch (const st::FileError& e) {
    return e.what();
  }
  return "";
}

TEST(Npz, InflatesCompressedArchivesIntoATemporaryFileAndReadsTheSameValues) {
  const std::filesystem::path folder = std::filesystem::path(testing::TempDir()) / "npz-compressed";
  std::filesystem::create_directories(folder);
  const std::string bytes = compressed_npz_bytes();
  const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.data());
  EXPECT_EQ(st::npz_inflated_size(p, bytes.size(), "f.npz"), 140u + 160u);  // the two .npy entries, as zipfile lists them
  EXPECT_EQ(st::npz_inflated_size(reinterpret_cast<const std::uint8_t*>(npz_bytes().data()), npz_bytes().size(), "f.npz"), 0u);
  EXPECT_EQ(inflate_error(bytes), "");
  write_atomically((folder / "c.npz").string(), bytes);
  const st::MappedFile mapped((folder / "c.npz").string());
  const st::View& v = mapped.view();
  const st::TensorInfo& theta = v.at("theta/w");
  EXPECT_EQ(theta.dtype, st::DType::F32);
  std::vector<double> xs;
  v.values(theta, 0, 3, xs);
  EXPECT_EQ(xs, (std::vector<double>{1.5, -2, 0.25}));
  const st::TensorInfo& m = v.at("m/w");
  EXPECT_EQ(m.shape, (std::vector<std::uint64_t>{2, 2}));
  v.values(m, 0, 4, xs);
  EXPECT_EQ(xs, (std::vector<double>{0.5, 1, 2, 4}));
  mapped.release(m, 0, 4);  // the temporary's pages, given back as a stored archive's are
  // An archive of one stored and one deflated entry (zipfile can write one; numpy does not): both inflated alike.
  std::filesystem::copy_file(std::string(ADAMCONF_SOURCE_DIR) + "/tests/data/two-arrays-mixed.npz", folder / "mixed.npz",
                             std::filesystem::copy_options::overwrite_existing);
  const st::MappedFile mixed((folder / "mixed.npz").string());
  mixed.view().values(mixed.view().at("theta/w"), 0, 3, xs);
  EXPECT_EQ(xs, (std::vector<double>{1.5, -2, 0.25}));
  mixed.view().values(mixed.view().at("m/w"), 0, 4, xs);
  EXPECT_EQ(xs, (std::vector<double>{0.5, 1, 2, 4}));
  // Corrupt archives, each in one line naming the entry: the first central directory entry's CRC-32 (offset 16),
  // its inflated size (24: 140 bytes) and its compressed size (20: 79 bytes, the stream cut short at 20).
  const auto cd = bytes.find("PK\x01\x02");
  ASSERT_NE(cd, std::string::npos);
  ASSERT_EQ(static_cast<unsigned char>(bytes[cd + 24]), 140u);
  auto with = [&](std::size_t at, unsigned char value) {
    std::string b = bytes;
    b[at] = static_cast<char>(value);
    return b;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {with(cd + 16, static_cast<unsigned char>(bytes[cd + 16] ^ 1)), "entry 'theta/w.npy': CRC-32 of its inflated bytes differs"},
      {with(cd + 24, 100), "entry 'theta/w.npy' inflates to more than the 100 bytes its header declares"},
      {with(cd + 24, 200), "entry 'theta/w.npy' inflates to 140 bytes; its header declares 200"},
      {with(cd + 20, 20), "entry 'theta/w.npy': its deflate data ends before its stream does"},
  };
  for (const auto& [b, expected] : cases) {
    const std::string e = inflate_error(b);
    EXPECT_NE(e.find(expected), std::string::npos) << "got: " << e << "\nexpected: " << expected;
    EXPECT_EQ(e.rfind("f.npz: ", 0), 0u) << e;
  }
  // Garbled deflate data: a block type of 3 (reserved) in the first entry's first byte.
  const auto local = bytes.find("PK\x03\x04");
  const std::size_t data = local + 30 + (static_cast<unsigned char>(bytes[local + 26]) | static_cast<unsigned char>(bytes[local + 27]) << 8) +
                           (static_cast<unsigned char>(bytes[local + 28]) | static_cast<unsigned char>(bytes[local + 29]) << 8);
  const std::string garbled = with(data, static_cast<unsigned char>(bytes[data] | 0x06));
  EXPECT_NE(inflate_error(garbled).find("entry 'theta/w.npy': its deflate data is corrupt (zlib: invalid block type)"), std::string::npos)
      << inflate_error(garbled);
}

/// A recorded step written by builtin:float: step 2 of pytorch-adamw over
/// three tensors ("w" of 70000 elements, "empty" of none, "b" of 5 without a
/// gradient at step 2), in its own folder. `plant` changes what was recorded.
struct RecordedStep {
  std::filesystem::path folder;
  Setup setup;
  RunCase c;
  RunResult r;
  std::vector<std::string> names = {"w", "empty", "b"};
  std::string manifest_text() const {
    return R"({"adamconf_audit": 1, "preset": ")" + setup.spec.preset + R"(", "dtype": ")" + std::string(setup.dtype.name) +
           R"(", "options": {"step_counter": "integer", "precision": ")" + to_string(setup.spec.convention.precision) +
           R"("}, "hyperparameters": {"weight_decay": "0.01"},
           "groups": [{}, {"lr": "0.01"}], "before": "before.safetensors", "after": "after.safetensors",
           "tensors": [{"name": "w"}, {"name": "empty"}, {"name": "b", "group": 1}]})";
  }
};

std::vector<double> slice(const std::vector<double>& xs, std::size_t from, std::size_t n) {
  return {xs.begin() + static_cast<std::ptrdiff_t>(from), xs.begin() + static_cast<std::ptrdiff_t>(from + n)};
}

RecordedStep record_step(const std::string& name, const FloatFormat& dtype,
                         const std::function<void(std::vector<st::TensorData>& before, std::vector<st::TensorData>& after)>& plant = {},
                         Precision precision = Precision::storage, const std::string& preset = "pytorch-adamw") {
  RecordedStep s;
  s.folder = std::filesystem::path(testing::TempDir()) / ("audit-" + name);
  std::filesystem::remove_all(s.folder);
  const Preset& p = preset_by_name(preset);
  s.setup = Setup{OptimizerSpec{p.name, {}, p.defaults, p.convention}, dtype};
  s.setup.spec.convention.state_formats = p.state_formats;  // bitsandbytes' 8-bit: m and v quantized
  s.setup.spec.hyper.weight_decay = "0.01";
  s.setup.spec.convention.precision = precision;
  const PrecisionRules rules = s.setup.rules();
  const std::size_t n = 70000;
  s.c.theta0 = gen::seeded_theta0(11, dtype, n + 5);
  s.c.grads = gen::seeded_gradients(11, dtype, 1e-8, 2, n + 5);
  s.c.tensors = {{n, 0}, {0, 0}, {5, 1}};
  s.c.groups = {{}, {{{"lr", "0.01"}}}};
  s.c.grad_given = {{true, true, true}, {true, true, false}};
  s.c.record_states = true;
  FloatImplementationOf<FloatAdam> impl("float");
  s.r = impl.run(s.setup, {s.c}).front();
  // Each tensor in the format the convention stores it in (the float32 master and states under master weights).
  const st::DType d = st::dtype_of_format(rules.reported().name), ds = st::dtype_of_format(rules.format_of(Quantity::m).name),
                  dc = st::dtype_of_format(rules.format_of(Quantity::compensation).name);
  std::vector<st::TensorData> before, after;
  const std::size_t offsets[] = {0, n, n};
  for (std::size_t k = 0; k < 3; ++k) {
    const std::size_t o = offsets[k], size = s.c.tensors[k].size;
    const std::string& t = s.names[k];
    const ImplementationState &s1 = s.r.states[0], &s2 = s.r.states[1];
    before.push_back({.name = "theta/" + t, .dtype = d, .values = slice(s.r.theta[0], o, size)});
    if (k != 2) before.push_back({.name = "grad/" + t, .dtype = d, .values = slice(s.c.grads[1], o, size)});
    before.push_back({.name = "m/" + t, .dtype = ds, .values = slice(s1.m, o, size)});
    before.push_back({.name = "v/" + t, .dtype = ds, .values = slice(s1.v, o, size)});
    if (rules.kahan_summation()) {
      before.push_back({.name = "compensation/" + t, .dtype = dc, .values = slice(s1.compensation, o, size)});
      after.push_back({.name = "compensation/" + t, .dtype = dc, .values = slice(s2.compensation, o, size)});
    }
    for (const auto& [field, state] : {std::pair{"m", &s2.m_quantized}, std::pair{"v", &s2.v_quantized}})
      if (state->size() > k && !(*state)[k].empty()) {
        const QuantizedTensor& q = (*state)[k];
        after.push_back({.name = std::string(field) + "_codes/" + t, .dtype = st::DType::U8,
                         .values = std::vector<double>(q.codes.begin(), q.codes.end())});
        after.push_back({.name = std::string(field) + "_scales/" + t, .dtype = st::DType::F32, .values = q.scales});
      }
    if (rules.master_weights())
      after.push_back({.name = "copy/" + t, .dtype = st::dtype_of_format(dtype.name), .values = slice(s.r.theta_copy[1], o, size)});
    before.push_back({.name = "step/" + t, .dtype = st::DType::I64, .values = {1}, .shape = std::vector<std::uint64_t>{}});
    after.push_back({.name = "theta/" + t, .dtype = d, .values = slice(s.r.theta[1], o, size)});
    after.push_back({.name = "m/" + t, .dtype = ds, .values = slice(s2.m, o, size)});
    after.push_back({.name = "v/" + t, .dtype = ds, .values = slice(s2.v, o, size)});
    after.push_back({.name = "step/" + t, .dtype = st::DType::I64, .values = {k == 2 ? 1.0 : 2.0}, .shape = std::vector<std::uint64_t>{}});
  }
  if (plant) plant(before, after);
  write_atomically((s.folder / "before.safetensors").string(), st::serialize(before));
  write_atomically((s.folder / "after.safetensors").string(), st::serialize(after));
  write_atomically((s.folder / "manifest.json").string(), s.manifest_text());
  return s;
}

std::vector<double>& values(std::vector<st::TensorData>& ts, const std::string& name) {
  for (auto& t : ts)
    if (t.name == name) return t.values;
  throw std::logic_error("no " + name);
}

audit::AuditReport audit_of(const RecordedStep& s, const audit::AuditSettings& settings = {}) {
  return audit::run_audit(audit::load_manifest((s.folder / "manifest.json").string()), settings);
}

std::string input_error(const RecordedStep& s) {
  try {
    audit_of(s);
  } catch (const audit::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Audit, CorrectStepPassesEveryElementInAnyThreadCountAndWindow) {
  for (const FloatFormat& f : {float32_format, bfloat16_format, float64_format}) {
    const RecordedStep s = record_step(std::string("correct-") + f.name, f);
    const audit::AuditReport one = audit_of(s, {.jobs = 1, .window = 4096});
    const audit::AuditReport two = audit_of(s, {.jobs = 2, .window = 1000});
    for (const auto* r : {&one, &two}) {
      EXPECT_TRUE(r->passed()) << f.name << ": " << (r->tensors[0].failed.empty() ? "" : r->tensors[0].failed[0].second);
      EXPECT_EQ(r->values(), 3 * 70005u) << f.name;  // theta, m, v of every element
      EXPECT_EQ(r->unjudged(), 0u) << f.name;        // and every one judged (theta in bfloat16 too: bias corrections in double)
      ASSERT_EQ(r->tensors.size(), 3u);
      EXPECT_FALSE(r->tensors[2].stepped);
      EXPECT_EQ(r->tensors[0].step_after, 2);
    }
    EXPECT_EQ(one.tensors[0].statistics.worst_ratio, two.tensors[0].statistics.worst_ratio) << f.name;
    EXPECT_EQ(one.tensors[0].statistics.ratio_bins, two.tensors[0].statistics.ratio_bins) << f.name;
    // The fast exact path decides almost every value; every value in MPFR gives the same verdict and the same
    // worst ratio (the certified values that may be the worst are judged again in MPFR).
    const audit::AuditReport exact = audit_of(s, {.jobs = 2, .fast_path = false});
    EXPECT_TRUE(exact.passed()) << f.name;
    EXPECT_EQ(exact.fast_values(), 0u);
    EXPECT_EQ(exact.mpfr_values(), exact.values()) << f.name;
    EXPECT_EQ(one.fast_values() + one.mpfr_values(), one.values()) << f.name;
    if (f.precision <= 24)  // float64 is judged in MPFR (FastStep::takes)
      EXPECT_GE(one.fast_values(), one.values() * 99 / 100) << f.name << ": " << one.mpfr_values() << " values in MPFR";
    else
      EXPECT_EQ(one.fast_values(), 0u);
    for (std::size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(one.tensors[k].statistics.worst_ratio, exact.tensors[k].statistics.worst_ratio) << f.name << " tensor " << k;
      EXPECT_EQ(one.tensors[k].statistics.worst.empty(), one.tensors[k].elements == 0) << f.name << " tensor " << k;
      EXPECT_EQ(one.tensors[k].statistics.max_error_ulps > 0, exact.tensors[k].statistics.max_error_ulps > 0);
    }
  }
}

TEST(Audit, MasterWeightsAndKahanSummationStepsPassAndTheirExtraTensorsAreJudged) {
  for (const Precision precision : {Precision::master_weights, Precision::kahan_summation}) {
    const std::string p = to_string(precision);
    const audit::AuditReport r = audit_of(record_step("correct-" + p, bfloat16_format, {}, precision), {.jobs = 2});
    EXPECT_TRUE(r.passed()) << p << ": " << (r.tensors[0].failed.empty() ? "" : r.tensors[0].failed[0].second);
    // theta, m, v, and theta + compensation (Kahan) or the copy (master weights) of every element
    EXPECT_EQ(r.values(), 4 * 70005u) << p;
    EXPECT_EQ(r.unjudged(), 0u) << p;
  }
  // A copy that is not the master rounded to nearest even; a compensation that lost its low bits.
  const audit::AuditReport copy = audit_of(record_step("copy", bfloat16_format, [](auto&, auto& after) {
    auto& x = values(after, "copy/w")[5];
    x = round_to_format(x * 1.0078125, bfloat16_format);  // the next bfloat16 up
  }, Precision::master_weights));
  EXPECT_EQ(copy.tensors[0].failures, 1u);
  EXPECT_EQ(copy.tensors[0].failed.at(0).second.rfind("w element 5: copy => ", 0), 0u) << copy.tensors[0].failed.at(0).second;
  const audit::AuditReport kahan = audit_of(record_step("compensation", bfloat16_format, [](auto&, auto& after) {
    for (double& c : values(after, "compensation/w")) c = 0;
  }, Precision::kahan_summation));
  EXPECT_FALSE(kahan.passed());
  EXPECT_NE(kahan.tensors[0].failed.at(0).second.find(": theta + compensation (from theta"), std::string::npos)
      << kahan.tensors[0].failed.at(0).second;
}

TEST(Audit, QuantizedStatesAreJudgedByTheirCodesAndScales) {
  // bitsandbytes' 8-bit AdamW as builtin:float computes it: w (70000 elements) quantized, b (5) in float32.
  const RecordedStep s = record_step("bnb8", float32_format, {}, Precision::storage, "bitsandbytes-adamw8bit");
  const audit::AuditReport r = audit_of(s, {.jobs = 2});
  EXPECT_TRUE(r.passed()) << (r.tensors[0].failed.empty() ? "" : r.tensors[0].failed[0].second);
  // w: theta, 70000 m codes and v codes, 274 m scales and v scales; b: theta, m, v
  EXPECT_EQ(r.tensors[0].statistics.count, 3 * 70000u + 2 * 274u);
  EXPECT_EQ(r.tensors[2].statistics.count, 15u);
  // A code two places off the nearest (and the value it reads back as) fails, naming the block and the code.
  const RecordedStep wrong = record_step("bnb8-code", float32_format, [](auto&, auto& after) {
    auto& code = values(after, "m_codes/w")[5000];
    code = code > 128 ? code - 2 : code + 2;
    const std::vector<float> map = quantized_format_by_name("bnb-dynamic8-signed")->map(LinspaceRounding::fused);
    values(after, "m/w")[5000] = dequantized(map, static_cast<int>(code), values(after, "m_scales/w")[5000 / 256]);
  }, Precision::storage, "bitsandbytes-adamw8bit");
  // Codes that do not read back as the values beside them: the state cannot be judged, one failure.
  const RecordedStep unread = record_step("bnb8-unread", float32_format, [](auto&, auto& after) {
    values(after, "m_codes/w")[5000] += 1;
  }, Precision::storage, "bitsandbytes-adamw8bit");
  const audit::AuditReport u = audit_of(unread);
  ASSERT_EQ(u.tensors[0].failures, 1u);
  EXPECT_NE(u.tensors[0].failed.at(0).second.find("m: the values do not read back as fl32(map[code] * scale)"), std::string::npos);
  const audit::AuditReport w = audit_of(wrong);
  ASSERT_EQ(w.tensors[0].failures, 1u) << (w.tensors[0].failed.empty() ? "" : w.tensors[0].failed[0].second);
  const std::string& d = w.tensors[0].failed.at(0).second;
  // counted in the whole tensor (5000 / 256 = block 19), though the audit judged it in a window from element 4096
  EXPECT_NE(d.find("w block 19 element 5000: m (exact"), std::string::npos) << d;
  EXPECT_NE(d.find("expected code"), std::string::npos) << d;
  // Codes of the wrong count: one line naming the file and the tensor.
  const RecordedStep short_codes = record_step("bnb8-short", float32_format, [](auto&, auto& after) {
    values(after, "v_codes/w").pop_back();
  }, Precision::storage, "bitsandbytes-adamw8bit");
  EXPECT_NE(input_error(short_codes).find("after.safetensors: tensor 'v_codes/w' is 69999 U8 values; bnb-dynamic8-unsigned needs one"),
            std::string::npos) << input_error(short_codes);
}

TEST(Audit, StaleStatePastElement65536FailsNamingTheTensorAndTheElement) {
  const RecordedStep s = record_step("stale", float32_format, [](auto& before, auto& after) {
    auto& m_after = values(after, "m/w");
    const auto& m_before = values(before, "m/w");
    for (std::size_t i = 65536; i < m_after.size(); ++i) m_after[i] = m_before[i];
  });
  const audit::AuditReport r = audit_of(s, {.jobs = 2});
  EXPECT_FALSE(r.passed());
  ASSERT_FALSE(r.tensors[0].failed.empty());
  EXPECT_EQ(r.tensors[0].failed[0].first, 65536u);
  EXPECT_EQ(r.tensors[0].failed[0].second.rfind("w element 65536: m (from theta 0x", 0), 0u) << r.tensors[0].failed[0].second;
  EXPECT_GT(r.tensors[0].failures, 4000u);  // most of the 4464 stale elements (some m barely change)
  EXPECT_LE(r.tensors[0].failures, 70000u - 65536u);
  EXPECT_TRUE(r.tensors[2].passed());
}

TEST(Audit, SkippedDecayFails) {
  // theta + lr wd theta_before: the decay undone (lr 0.001, wd 0.01), rounded to float32.
  const RecordedStep s = record_step("decay", float32_format, [](auto& before, auto& after) {
    auto& theta = values(after, "theta/w");
    const auto& t0 = values(before, "theta/w");
    for (std::size_t i = 0; i < theta.size(); ++i) theta[i] = static_cast<float>(theta[i] + 1e-5 * t0[i]);
  });
  const audit::AuditReport r = audit_of(s);
  EXPECT_FALSE(r.passed());
  EXPECT_GT(r.tensors[0].failures, 60000u);
  EXPECT_NE(r.tensors[0].failed.at(0).second.find(": theta (from theta"), std::string::npos);
}

TEST(Audit, ATensorWithoutGradientMustBeLeftAloneAndCountsMustAdvance) {
  const RecordedStep moved = record_step("moved", float32_format, [](auto&, auto& after) { auto& x = values(after, "theta/b")[3];
    x = static_cast<float>(x + 1);
  });
  const audit::AuditReport r = audit_of(moved);
  EXPECT_EQ(r.tensors[2].failures, 1u);
  EXPECT_EQ(r.tensors[2].failed.at(0).second.rfind("b element 3: theta", 0), 0u);
  const RecordedStep counted = record_step("count", float32_format, [](auto&, auto& after) { values(after, "step/w")[0] = 1; });
  const audit::AuditReport c = audit_of(counted);
  EXPECT_EQ(c.tensors[0].failures, 1u);
  EXPECT_EQ(c.tensors[0].failed.at(0).second, "step count after the step is 1, expected 2 (from 1, one step)");
}

TEST(Audit, FilesThatDisagreeWithTheManifestAreOneLineNamingFileAndTensor) {
  auto check = [](const std::string& name, auto plant, const std::string& expected) {
    const RecordedStep s = record_step(name, float32_format, plant);
    const std::string e = input_error(s);
    EXPECT_NE(e.find(expected), std::string::npos) << name << ": " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  };
  check("nan", [](auto& before, auto&) { values(before, "v/w")[7] = std::nan(""); },
        "before.safetensors: tensor 'v/w' element 7 is nan: a second moment is finite and >= 0");
  check("negative", [](auto& before, auto&) { values(before, "v/w")[9] = -1; }, "tensor 'v/w' element 9 is -0x1p+0");
  check("inf-grad", [](auto& before, auto&) { values(before, "grad/w")[2] = INFINITY; }, "tensor 'grad/w' element 2 is inf");
  check("dtype", [](auto&, auto& after) { after[0].dtype = st::DType::F64; },
        "after.safetensors: tensor 'theta/w' is F64; the manifest's convention stores it as float32 (F32)");
  check("size", [](auto& before, auto&) { values(before, "grad/w").pop_back(); },
        "before.safetensors: tensor 'grad/w' has 69999 elements; theta/w has 70000");
  check("missing", [](auto&, auto& after) { after.erase(after.begin() + 1); }, "after.safetensors: no tensor 'm/w'");
  check("step", [](auto& before, auto&) { values(before, "step/w")[0] = -3; }, "tensor 'step/w' is -0x1.8p+1, not a step count");
  // A truncated file: the header's offsets run past what is left.
  const RecordedStep s = record_step("truncated", float32_format);
  const auto file = s.folder / "after.safetensors";
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 100);
  EXPECT_NE(input_error(s).find("after.safetensors: tensor '"), std::string::npos) << input_error(s);
  EXPECT_NE(input_error(s).find("run past the data's"), std::string::npos) << input_error(s);
  std::filesystem::remove(file);
  EXPECT_NE(input_error(s).find("after.safetensors: No such file or directory"), std::string::npos) << input_error(s);
}

/// The tensors of `from` (a recorded step's before or after) renamed NAME -> NAME + suffix, appended to `into`.
void append_renamed(std::vector<st::TensorData>& into, const st::View& from, const std::string& suffix) {
  for (const st::TensorInfo& t : from.tensors()) {
    std::vector<double> xs;
    from.values(t, 0, t.elements, xs);
    into.push_back({.name = t.name + suffix, .dtype = t.dtype, .values = xs, .shape = t.shape});
  }
}

TEST(Audit, TensorsOfTheirOwnDtypeAreJudgedInIt) {
  // Mixed precision as models are trained: bfloat16 weights beside float32 ones (norms kept in float32). Two
  // recorded steps, one in each dtype, joined into one manifest whose float32 tensors say so.
  const RecordedStep low = record_step("mixed-bfloat16", bfloat16_format), high = record_step("mixed-float32", float32_format);
  const std::filesystem::path folder = std::filesystem::path(testing::TempDir()) / "audit-mixed";
  std::filesystem::remove_all(folder);
  auto join = [&](const char* file, const std::function<void(std::vector<st::TensorData>&)>& plant = {}) {
    std::vector<st::TensorData> ts;
    for (const auto& [step, suffix] : {std::pair{&low, ""}, std::pair{&high, "32"}}) {
      const st::MappedFile mapped((step->folder / file).string());
      append_renamed(ts, mapped.view(), suffix);
    }
    if (plant) plant(ts);
    write_atomically((folder / file).string(), st::serialize(ts));
  };
  auto manifest = [&](const std::string& own_dtype) {
    write_atomically((folder / "manifest.json").string(),
                     R"({"adamconf_audit": 1, "preset": "pytorch-adamw", "dtype": "bfloat16", "options": {"step_counter": "integer"},
                         "hyperparameters": {"weight_decay": "0.01"}, "groups": [{}, {"lr": "0.01"}],
                         "before": "before.safetensors", "after": "after.safetensors",
                         "tensors": [{"name": "w"}, {"name": "empty"}, {"name": "b", "group": 1},
                                     {"name": "w32")" + own_dtype + R"(}, {"name": "b32", "group": 1)" + own_dtype + "}]}");
    return audit::load_manifest((folder / "manifest.json").string());
  };
  join("before.safetensors");
  join("after.safetensors");
  const audit::AuditReport r = audit::run_audit(manifest(R"(, "dtype": "float32")"), {.jobs = 2});
  EXPECT_TRUE(r.passed()) << (r.tensors[3].failed.empty() ? "" : r.tensors[3].failed[0].second);
  ASSERT_EQ(r.tensors.size(), 5u);
  EXPECT_EQ(r.values(), 3 * 2 * 70005u);  // theta, m, v of every element of both steps
  EXPECT_EQ(r.unjudged(), 0u);
  EXPECT_EQ(r.tensors[0].dtype, "bfloat16");
  EXPECT_EQ(r.tensors[3].dtype, "float32");
  EXPECT_EQ(audit::report_from_json(audit::to_json(r), "r.json").tensors[3].dtype, "float32");
  // The float32 tensor's step judged by float32's bound: 2^-12 relative off (1/16 of a bfloat16 ulp) fails.
  join("after.safetensors", [](std::vector<st::TensorData>& ts) {
    double& x = values(ts, "theta/w32")[100];
    x = static_cast<float>(x * (1 + std::ldexp(1.0, -12)));
  });
  const audit::AuditReport off = audit::run_audit(manifest(R"(, "dtype": "float32")"), {.jobs = 1});
  EXPECT_FALSE(off.passed());
  EXPECT_EQ(off.tensors[3].failures, 1u);
  ASSERT_FALSE(off.tensors[3].failed.empty());
  EXPECT_EQ(off.tensors[3].failed[0].first, 100u);
  EXPECT_NE(off.tensors[3].failed[0].second.find("w32 element 100: theta"), std::string::npos) << off.tensors[3].failed[0].second;
  // Without its own dtype the float32 tensor disagrees with the manifest, in one line naming file and tensor.
  std::string e;
  try {
    audit::run_audit(manifest(""), {});
  } catch (const audit::InputError& x) {
    e = x.what();
  }
  EXPECT_NE(e.find("before.safetensors: tensor 'theta/w32' is F32; the manifest's convention stores it as bfloat16"),
            std::string::npos) << e;
}

TEST(Audit, ShardsSplitTheTensorsAndMergeIntoTheWholeVerdict) {
  const RecordedStep s = record_step("shards", float32_format, [](auto&, auto& after) { auto& x = values(after, "theta/b")[0];
    x = static_cast<float>(x + 1);
  });
  const audit::AuditReport whole = audit_of(s);
  std::vector<std::pair<std::string, audit::AuditReport>> parts;
  std::size_t tensors = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    const audit::AuditReport part = audit_of(s, {.shard = {.index = i, .count = 3}});
    tensors += part.tensors.size();
    // through JSON, as `audit merge` reads them
    parts.emplace_back("part" + std::to_string(i), audit::report_from_json(audit::to_json(part), "part.json"));
  }
  EXPECT_EQ(tensors, 3u);
  const audit::AuditReport merged = audit::merge(parts);
  EXPECT_TRUE(merged.complete());
  EXPECT_EQ(merged.values(), whole.values());
  EXPECT_EQ(merged.failures(), whole.failures());
  EXPECT_EQ(merged.failures(), 1u);
  // The same shard twice, or a report of another step, is refused.
  auto twice = parts;
  twice.push_back(parts[0]);
  EXPECT_THROW(audit::merge(twice), audit::InputError);
  auto other = parts;
  other[1].second.digest = "1";
  EXPECT_THROW(audit::merge(other), audit::InputError);
  // The split: every tensor in exactly one shard, the largest spread first.
  const std::vector<std::uint64_t> sizes = {10, 1000, 0, 999, 5};
  std::vector<int> seen(sizes.size(), 0);
  for (std::size_t i = 0; i < 2; ++i)
    for (const std::size_t k : audit::shard_tensors(sizes, {.index = i, .count = 2})) ++seen[k];
  EXPECT_EQ(seen, std::vector<int>(sizes.size(), 1));
  EXPECT_EQ(audit::shard_tensors(sizes, {.index = 0, .count = 2}), (std::vector<std::size_t>{1, 2, 4}));  // 1000 | 999, 10 | 5 and 0 to the lighter
  EXPECT_THROW(audit::AuditShard::parse("0/3"), std::invalid_argument);
  EXPECT_THROW(audit::AuditShard::parse("4/3"), std::invalid_argument);
  EXPECT_THROW(audit::AuditShard::parse("1/x"), std::invalid_argument);
  EXPECT_EQ(audit::AuditShard::parse("2/3").index, 1u);
}

TEST(AuditManifest, RefusesWhatItCannotAuditInOneLine) {
  const std::string base = R"("adamconf_audit": 1, "preset": "pytorch-adamw", "before": "b", "after": "a")";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{" + base + R"(, "dtype": "float32", "hyperparameters": {"lr": "nan"}})", "m.json: hyperparameter lr: 'nan' is not a finite decimal number"},
      {"{" + base + R"(, "dtype": "float32", "hyperparameters": {"lr": 0.001}})",
       "hyperparameters.lr is 0.001: give the value as decimal text"},
      {"{" + base + R"(, "dtype": "float32", "colour": 1})", "unknown field 'colour'"},
      {"{" + base + R"(, "dtype": "float31"})", "dtype 'float31'"},
      {R"({"adamconf_audit": 1, "preset": "keras-adamx", "dtype": "float32", "before": "b", "after": "a"})", "unknown preset"},
      {"{" + base + R"(, "dtype": "float32", "tensors": [{"name": "w", "group": 2}]})", "is in group 2; the manifest has 1"},
      {"{" + base + R"(, "dtype": "float32", "tensors": [{"name": "w"}, {"name": "w"}]})", "listed twice"},
      {"{" + base + R"(, "dtype": "bfloat16", "tensors": [{"name": "norm", "dtype": "float8"}]})",
       "tensors[0].dtype is \"float8\": expected \"bfloat16\", \"float16\", \"float32\" or \"float64\""},
      {"{" + base + R"(, "dtype": "float32", "options": {"m_format": "float32"},
           "tensors": [{"name": "w"}, {"name": "norm", "dtype": "bfloat16"}]})",
       "tensors[1] ('norm', bfloat16): m in float32 is wider than the bfloat16 arithmetic"},
      {"{" + base + R"(, "dtype": "float32", "groups": [{"beta1": "1.5"}]})", "groups[0]: hyperparameter beta1 = 1.5 is outside [0, 1)"},
      {"{" + base + R"(, "dtype": "float32", "options": {"amsgrad": "yes"}})", "options.amsgrad is \"yes\", not true or false"},
      // torchao's low-bit classes keep a quantized maximum (not modelled): refused, not judged as a float32 one
      {R"({"adamconf_audit": 1, "preset": "torchao-adamw", "before": "b", "after": "a", "dtype": "float32",
           "options": {"amsgrad": true, "m_format": "torchao-dynamic8-signed", "v_format": "torchao-dynamic8-unsigned"}})",
       "options.amsgrad: AMSGrad beside a quantized state: torchao keeps a quantized tensor's maximum quantized too"},
      {R"({"preset": "pytorch-adamw"})", "no \"adamconf_audit\": 1"},
      {"[", "not JSON"},
  };
  for (const auto& [text, expected] : cases) {
    std::string e;
    try {
      audit::parse_manifest(text, "m.json");
    } catch (const audit::InputError& x) {
      e = x.what();
    }
    EXPECT_NE(e.find(expected), std::string::npos) << text << "\n got: " << e;
    EXPECT_EQ(e.rfind("m.json: ", 0), 0u) << e;
  }
}

}  // namespace
}  // namespace adamconf
