#include "adamconf/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "adamconf/bounded_json.hpp"
#include "adamconf/excerpt.hpp"

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; this reader reads it in place");

namespace adamconf::safetensors {

namespace {

struct DTypeInfo {
  DType dtype;
  const char* name;
  std::size_t size;
};
constexpr DTypeInfo kDTypes[] = {{DType::BOOL, "BOOL", 1}, {DType::U8, "U8", 1},     {DType::I8, "I8", 1},
                                 {DType::F8_E5M2, "F8_E5M2", 1}, {DType::F8_E4M3, "F8_E4M3", 1},
                                 {DType::I16, "I16", 2},   {DType::U16, "U16", 2},   {DType::F16, "F16", 2},
                                 {DType::BF16, "BF16", 2}, {DType::I32, "I32", 4},   {DType::U32, "U32", 4},
                                 {DType::F32, "F32", 4},   {DType::F64, "F64", 8},   {DType::I64, "I64", 8},
                                 {DType::U64, "U64", 8}};

/// The reference implementation's limit on the header (safetensors/src/tensor.rs MAX_HEADER_SIZE).
constexpr std::uint64_t kMaxHeader = 100'000'000;

template <class T>
T load(const std::uint8_t* p) {
  T x;
  std::memcpy(&x, p, sizeof x);
  return x;
}

/// A float of `exponent_bits` and `mantissa_bits` stored in the low bits of `bits`, IEEE-style
/// (float16; the float8 types, where e4m3fn has no infinity and one NaN pattern).
double decode_small_float(std::uint32_t bits, int exponent_bits, int mantissa_bits, bool finite_only) {
  const bool negative = bits >> (exponent_bits + mantissa_bits) & 1;
  const std::uint32_t e = bits >> mantissa_bits & ((1u << exponent_bits) - 1);
  const std::uint32_t f = bits & ((1u << mantissa_bits) - 1);
  const int bias = (1 << (exponent_bits - 1)) - 1;
  double x;
  if (e == (1u << exponent_bits) - 1 && !finite_only)
    x = f ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else if (finite_only && e == (1u << exponent_bits) - 1 && f == (1u << mantissa_bits) - 1)
    x = std::numeric_limits<double>::quiet_NaN();
  else if (e == 0)
    x = std::ldexp(static_cast<double>(f), 1 - bias - mantissa_bits);
  else
    x = std::ldexp(static_cast<double>(f | 1u << mantissa_bits), static_cast<int>(e) - bias - mantissa_bits);
  return negative ? -x : x;
}

/// float16 bits of x, which must be a float16 value.
std::uint16_t encode_f16(double x, const std::string& name) {
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const double a = std::fabs(x);
  if (std::isnan(x)) return 0x7e00;
  if (std::isinf(x)) return sign | 0x7c00;
  if (a == 0) return sign;
  int exponent;
  std::frexp(a, &exponent);  // a = f 2^exponent, f in [0.5, 1)
  std::uint32_t e = 0, f;
  if (exponent - 1 < -14) {  // subnormal: a = f 2^-24
    f = static_cast<std::uint32_t>(std::ldexp(a, 24));
    if (std::ldexp(static_cast<double>(f), -24) != a) throw std::invalid_argument(name + ": value is no float16");
  } else {
    e = static_cast<std::uint32_t>(exponent - 1 + 15);
    const double scaled = std::ldexp(a, 10 - (exponent - 1));
    f = static_cast<std::uint32_t>(scaled) - 1024;
    if (scaled != std::floor(scaled) || e >= 31) throw std::invalid_argument(name + ": value is no float16");
  }
  return static_cast<std::uint16_t>(sign | e << 10 | f);
}

}  // namespace

const char* name(DType d) {
  for (const auto& i : kDTypes)
    if (i.dtype == d) return i.name;
  return "?";
}

std::size_t size_of(DType d) {
  for (const auto& i : kDTypes)
    if (i.dtype == d) return i.size;
  return 1;
}

bool numeric(DType d) { return d != DType::BOOL; }

bool is_float(DType d) { return d == DType::F16 || d == DType::BF16 || d == DType::F32 || d == DType::F64; }

bool is_integer(DType d) {
  return d == DType::U8 || d == DType::I8 || d == DType::I16 || d == DType::U16 || d == DType::I32 || d == DType::U32 ||
         d == DType::I64;
}

DType dtype_of_format(const std::string& format) {
  if (format == "float64") return DType::F64;
  if (format == "float32") return DType::F32;
  if (format == "bfloat16") return DType::BF16;
  if (format == "float16") return DType::F16;
  throw std::invalid_argument("format '" + excerpt(format, 40) + "' has no safetensors dtype (float64, float32, bfloat16, float16)");
}

View::View(const std::uint8_t* bytes, std::size_t size, std::string file) : file_(std::move(file)) {
  auto fail = [&](const std::string& what) { throw FileError(file_ + ": " + what); };
  if (size < 8) fail("is " + std::to_string(size) + " bytes long: too short for a safetensors file (an 8-byte header length first)");
  const std::uint64_t n = load<std::uint64_t>(bytes);
  if (n > kMaxHeader) fail("header length " + std::to_string(n) + " exceeds safetensors' limit of 100000000 bytes");
  if (n > size - 8)
    fail("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size - 8) +
         " bytes follow the length)");
  const std::string text(reinterpret_cast<const char*>(bytes + 8), n);
  nlohmann::json header;
  try {
    header = parse_bounded_json(text, {.max_bytes = kMaxHeader, .max_depth = 4});
  } catch (const JsonTextError& e) {
    fail(std::string("header is not JSON: ") + e.what() + (e.where.empty() ? "" : " at " + e.where));
  }
  if (!header.is_object()) fail("header is " + excerpt(header) + ", not a JSON object");
  data_ = bytes + 8 + n;
  const std::uint64_t data_size = size - 8 - n;
  for (const auto& [key, entry] : header.items()) {
    if (key == "__metadata__") {
      if (!entry.is_object()) fail("__metadata__ is " + excerpt(entry) + ", not an object of strings");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) fail("__metadata__ '" + excerpt(k, 40) + "' is " + excerpt(v) + ", not a string");
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + excerpt(key, 80) + "'";
    auto bad = [&](const std::string& what) { fail(where + ": " + what); };
    if (!entry.is_object()) bad("entry is " + excerpt(entry) + ", not an object");
    for (const auto& [k, v] : entry.items())
      if (k != "dtype" && k != "shape" && k != "data_offsets") bad("unknown field '" + excerpt(k, 40) + "'");
    TensorInfo t{.name = key};
    const auto dtype = entry.find("dtype");
    if (dtype == entry.end() || !dtype->is_string()) bad("no dtype string");
    const auto known = std::find_if(std::begin(kDTypes), std::end(kDTypes),
                                    [&](const DTypeInfo& i) { return dtype->get<std::string>() == i.name; });
    if (known == std::end(kDTypes)) bad("unknown dtype " + excerpt(*dtype));
    t.dtype = known->dtype;
    const auto shape = entry.find("shape");
    if (shape == entry.end() || !shape->is_array()) bad("no shape array");
    t.elements = 1;
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned()) bad("shape " + excerpt(*shape) + " holds " + excerpt(d) + ", not a size");
      const std::uint64_t extent = d.get<std::uint64_t>();
      if (extent != 0 && t.elements > std::numeric_limits<std::uint64_t>::max() / extent) bad("shape " + excerpt(*shape) + " overflows");
      t.elements *= extent;
      t.shape.push_back(extent);
    }
    const auto offsets = entry.find("data_offsets");
    if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned())
      bad("data_offsets is not [begin, end]");
    t.begin = (*offsets)[0].get<std::uint64_t>();
    t.end = (*offsets)[1].get<std::uint64_t>();
    if (t.begin > t.end) bad("data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] run backwards");
    if (t.end > data_size)
      bad("data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] run past the data's " +
          std::to_string(data_size) + " bytes");
    if (t.elements > std::numeric_limits<std::uint64_t>::max() / size_of(t.dtype) ||
        t.end - t.begin != t.elements * size_of(t.dtype))
      bad("data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] hold " +
          std::to_string(t.end - t.begin) + " bytes; its shape " + excerpt(*shape) + " of " + name(t.dtype) + " needs " +
          (t.elements > std::numeric_limits<std::uint64_t>::max() / size_of(t.dtype)
               ? std::string("more than a file holds")
               : std::to_string(t.elements * size_of(t.dtype))));
    index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }
  // Every byte of the data belongs to exactly one tensor, in order.
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const TensorInfo* t : by_offset) {
    if (t->begin < covered)
      fail("tensor '" + excerpt(t->name, 80) + "': data_offsets [" + std::to_string(t->begin) + ", " +
           std::to_string(t->end) + "] overlap tensor '" + excerpt(previous->name, 80) + "''s");
    if (t->begin > covered)
      fail("bytes [" + std::to_string(covered) + ", " + std::to_string(t->begin) + ") of the data belong to no tensor (before '" +
           excerpt(t->name, 80) + "')");
    covered = t->end;
    previous = t;
  }
  if (covered != data_size)
    fail("bytes [" + std::to_string(covered) + ", " + std::to_string(data_size) + ") of the data belong to no tensor");
}

View::View(const std::uint8_t* data, std::vector<TensorInfo> tensors, std::string file)
    : data_(data), file_(std::move(file)), tensors_(std::move(tensors)) {
  for (std::size_t k = 0; k < tensors_.size(); ++k)
    if (!index_.emplace(tensors_[k].name, k).second) throw FileError(file_ + ": tensor '" + excerpt(tensors_[k].name, 80) + "' twice");
}

const TensorInfo* View::find(const std::string& name) const {
  const auto i = index_.find(name);
  return i == index_.end() ? nullptr : &tensors_[i->second];
}

const TensorInfo& View::at(const std::string& name) const {
  if (const TensorInfo* t = find(name)) return *t;
  throw FileError(file_ + ": no tensor '" + excerpt(name, 80) + "'");
}

double View::value(const TensorInfo& t, std::uint64_t i) const {
  const std::uint8_t* p = data_ + t.begin + i * size_of(t.dtype);
  auto integer = [&](auto x) {
    using T = decltype(x);
    if constexpr (sizeof(T) == 8) {
      constexpr T limit = T{1} << 53;
      if (x > limit || (std::is_signed_v<T> && static_cast<std::int64_t>(x) < -static_cast<std::int64_t>(limit)))
        throw FileError(file_ + ": tensor '" + excerpt(t.name, 80) + "' element " + std::to_string(i) + " is " +
                        std::to_string(x) + ", beyond 2^53");
    }
    return static_cast<double>(x);
  };
  switch (t.dtype) {
    case DType::F64: return load<double>(p);
    case DType::F32: return load<float>(p);
    case DType::BF16: return std::bit_cast<float>(static_cast<std::uint32_t>(load<std::uint16_t>(p)) << 16);
    case DType::F16: return decode_small_float(load<std::uint16_t>(p), 5, 10, false);
    case DType::F8_E5M2: return decode_small_float(*p, 5, 2, false);
    case DType::F8_E4M3: return decode_small_float(*p, 4, 3, true);
    case DType::U8: return *p;
    case DType::I8: return static_cast<std::int8_t>(*p);
    case DType::I16: return load<std::int16_t>(p);
    case DType::U16: return load<std::uint16_t>(p);
    case DType::I32: return load<std::int32_t>(p);
    case DType::U32: return load<std::uint32_t>(p);
    case DType::I64: return integer(load<std::int64_t>(p));
    case DType::U64: return integer(load<std::uint64_t>(p));
    case DType::BOOL: break;
  }
  throw FileError(file_ + ": tensor '" + excerpt(t.name, 80) + "' is BOOL, not numbers");
}

void View::values(const TensorInfo& t, std::uint64_t first, std::uint64_t count, std::vector<double>& out) const {
  out.resize(count);
  if (t.dtype == DType::F32) {  // the common case, without the switch per element
    const std::uint8_t* p = data_ + t.begin + first * 4;
    for (std::uint64_t i = 0; i < count; ++i) out[i] = load<float>(p + 4 * i);
    return;
  }
  for (std::uint64_t i = 0; i < count; ++i) out[i] = value(t, first + i);
}

MappedFile::MappedFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw FileError(path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw FileError(path + ": not a regular file");
  }
  size_ = static_cast<std::size_t>(st.st_size);
  if (size_ > 0) {
    base_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base_ == MAP_FAILED) {
      base_ = nullptr;
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw FileError(path + ": cannot map it: " + why);
    }
  }
  ::close(fd);
  static const std::uint8_t nothing = 0;
  try {
    const auto* bytes = base_ ? static_cast<const std::uint8_t*>(base_) : &nothing;
    if (!is_zip(bytes, size_)) {
      view_ = std::make_unique<View>(bytes, size_, path);
    } else if (const std::uint64_t inflated = npz_inflated_size(bytes, size_, path); inflated == 0) {
      view_ = std::make_unique<View>(read_npz(bytes, size_, path));
    } else {
      inflate_into_temporary(bytes, inflated, path);
    }
  } catch (...) {
    if (base_) ::munmap(base_, size_);
    throw;
  }
}

// np.savez_compressed: every entry inflated, a stream at a time, into an unlinked temporary file in
// $TMPDIR (or /tmp), which is then mapped in place of the archive: the audit reads its windows from it
// as from a stored archive, and the disk, not memory, holds the inflated arrays while it runs.
void MappedFile::inflate_into_temporary(const std::uint8_t* bytes, std::uint64_t inflated, const std::string& path) {
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string folder = tmpdir && *tmpdir ? tmpdir : "/tmp";
  struct statvfs fs {};
  if (::statvfs(folder.c_str(), &fs) == 0 && static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize < inflated)
    throw FileError(path + ": its compressed entries inflate to " + std::to_string(inflated) + " bytes; " + folder +
                    " ($TMPDIR) has " + std::to_string(static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize) +
                    " free (save with np.savez, or as safetensors, to read in place)");
  std::string name = folder + "/adamconf-npz-XXXXXX";
  const int fd = ::mkstemp(name.data());
  if (fd < 0) throw FileError(path + ": cannot make a temporary file in " + folder + " to inflate it into: " + std::strerror(errno));
  ::unlink(name.c_str());  // gone with the last descriptor or mapping, however the audit ends
  std::vector<InflatedEntry> entries;
  void* mapped = nullptr;
  try {
    std::vector<std::uint8_t> pending;
    auto flush = [&] {
      for (std::size_t done = 0; done < pending.size();) {
        const ssize_t n = ::write(fd, pending.data() + done, pending.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw FileError(path + ": cannot write its inflated entries to " + folder + ": " + std::strerror(errno));
        done += static_cast<std::size_t>(n);
      }
      pending.clear();
      // The archive's pages read so far are the file's (a read-only mapping never written): given back, so
      // that inflating a large archive holds no more than its buffers (touched again, they are read again).
      ::madvise(base_, size_, MADV_DONTNEED);
    };
    entries = inflate_npz(bytes, size_, path, [&](const std::uint8_t* p, std::size_t n) {
      pending.insert(pending.end(), p, p + n);
      if (pending.size() >= (std::size_t{1} << 22)) flush();
    });
    flush();
    mapped = ::mmap(nullptr, inflated, PROT_READ, MAP_PRIVATE, fd, 0);  // inflated > 0: the caller's
    if (mapped == MAP_FAILED) throw FileError(path + ": cannot map its inflated entries: " + std::strerror(errno));
    ::close(fd);
  } catch (...) {
    ::close(fd);
    throw;
  }
  try {
    view_ = std::make_unique<View>(read_inflated_npz(static_cast<const std::uint8_t*>(mapped), inflated, entries, path));
  } catch (...) {
    ::munmap(mapped, inflated);
    throw;
  }
  ::munmap(base_, size_);  // the archive itself is read no more
  base_ = mapped;
  size_ = inflated;
}

void MappedFile::release(const TensorInfo& t, std::uint64_t first, std::uint64_t count) const {
  if (!base_ || count == 0) return;
  static const std::uintptr_t page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<std::uintptr_t>(view_->address(t, first));
  const auto end = reinterpret_cast<std::uintptr_t>(view_->address(t, first + count));
  const std::uintptr_t from = (begin + page - 1) / page * page, to = end / page * page;
  // A read-only private mapping never written: the pages are the file's, dropping them loses nothing.
  if (from < to) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (base_) ::munmap(base_, size_);
}

std::string serialize(const std::vector<TensorData>& tensors, const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string data;
  for (const TensorData& t : tensors) {
    const std::uint64_t begin = data.size();
    for (const double x : t.values) {
      switch (t.dtype) {
        case DType::F64: data.append(reinterpret_cast<const char*>(&x), 8); break;
        case DType::F32: {
          const float f = static_cast<float>(x);
          if (f != x && !std::isnan(x)) throw std::invalid_argument(t.name + ": value is no float32");
          data.append(reinterpret_cast<const char*>(&f), 4);
          break;
        }
        case DType::BF16: {
          const std::uint32_t bits = std::bit_cast<std::uint32_t>(static_cast<float>(x));
          if ((bits & 0xffff) != 0 && !std::isnan(x)) throw std::invalid_argument(t.name + ": value is no bfloat16");
          const std::uint16_t top = static_cast<std::uint16_t>(bits >> 16);
          data.append(reinterpret_cast<const char*>(&top), 2);
          break;
        }
        case DType::F16: {
          const std::uint16_t h = encode_f16(x, t.name);
          data.append(reinterpret_cast<const char*>(&h), 2);
          break;
        }
        case DType::I64: {
          const auto i = static_cast<std::int64_t>(x);
          data.append(reinterpret_cast<const char*>(&i), 8);
          break;
        }
        case DType::I32: {
          const auto i = static_cast<std::int32_t>(x);
          data.append(reinterpret_cast<const char*>(&i), 4);
          break;
        }
        case DType::U8: {
          if (!(x >= 0 && x <= 255 && x == std::floor(x))) throw std::invalid_argument(t.name + ": value is no U8");
          data.push_back(static_cast<char>(static_cast<std::uint8_t>(x)));
          break;
        }
        default: throw std::invalid_argument(t.name + ": writing " + name(t.dtype) + " is not supported");
      }
    }
    header[t.name] = {{"dtype", name(t.dtype)},
                      {"shape", t.shape ? *t.shape : std::vector<std::uint64_t>{t.values.size()}},
                      {"data_offsets", {begin, static_cast<std::uint64_t>(data.size())}}};
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8 != 0) text += ' ';  // the data 8-byte aligned, as the reference writer pads
  const std::uint64_t n = text.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  return out + text + data;
}

}  // namespace adamconf::safetensors
