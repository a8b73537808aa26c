// NumPy .npz archives as tensor files for `adamconf audit`: a ZIP (APPNOTE.TXT,
// PKWARE) of .npy files (numpy/lib/format.py). np.savez stores each entry
// uncompressed and with ZIP64 extra fields (numpy writes them with
// force_zip64=True), so an entry's array is a contiguous run of the file and is
// read in place, as a safetensors tensor is. Untrusted: every offset and size is
// checked against the file before it is used, and refused in one line naming
// the file and the entry:
//   - no end-of-central-directory record, or one (or its ZIP64 record) that
//     points outside the file; a central directory entry or local header cut short;
//   - an entry compressed otherwise than by deflate, an encrypted one, an entry
//     not named *.npy;
//   - np.savez_compressed's deflated entries are inflated (zlib, a stream at a
//     time) by inflate_npz into a sink, each checked to inflate to exactly its
//     declared size with its declared CRC-32; MappedFile's sink is an unlinked
//     temporary file, mapped as the stored archive would be (memory stays at
//     the windows'; the disk holds the inflated arrays while the audit runs);
//   - an .npy header that is not one: magic, version 1-3, a header that runs
//     past its entry, a descr that is not one of '<f8' '<f4' '<f2' '<i8' '<i4'
//     '<u8' '<u4' '|u1' '|i1' '|b1' and '<V2' (ml_dtypes' bfloat16, which NumPy
//     saves as 2-byte void), big-endian data, Fortran order beyond one
//     dimension, a shape whose product overflows, or data of another size.
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "adamconf/excerpt.hpp"
#include "adamconf/safetensors.hpp"

namespace adamconf::safetensors {

namespace {

std::uint64_t le(const std::uint8_t* p, int bytes) {
  std::uint64_t x = 0;
  for (int i = bytes - 1; i >= 0; --i) x = x << 8 | p[i];
  return x;
}

struct Zip {
  const std::uint8_t* bytes;
  std::uint64_t size;
  const std::string& file;
  [[noreturn]] void fail(const std::string& what) const { throw FileError(file + ": " + what); }
  /// bytes[at, at + n) lie in the file.
  void need(std::uint64_t at, std::uint64_t n, const std::string& what) const {
    if (at > size || n > size - at) fail(what + " runs past the end of the file (" + std::to_string(size) + " bytes)");
  }
};

/// The .npy array of one stored entry: its dtype, shape and data, located in place.
TensorInfo npy(const Zip& z, std::string name, std::uint64_t begin, std::uint64_t length) {
  const std::string where = "entry '" + excerpt(name, 80) + ".npy'";
  auto bad = [&](const std::string& what) { z.fail(where + ": " + what); };
  const std::uint8_t* p = z.bytes + begin;
  if (length < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0) bad("not an .npy array (no \\x93NUMPY magic)");
  const int major = p[6];
  if (major < 1 || major > 3) bad("npy format version " + std::to_string(major) + " (expected 1, 2 or 3)");
  const int length_bytes = major == 1 ? 2 : 4;
  if (length < 8u + length_bytes) bad("npy header cut short");
  const std::uint64_t header_length = le(p + 8, length_bytes);
  const std::uint64_t data_at = 8 + length_bytes + header_length;
  if (header_length > 65536 || data_at > length) bad("npy header length " + std::to_string(header_length) + " runs past the entry");
  const std::string header(reinterpret_cast<const char*>(p + 8 + length_bytes), header_length);
  // {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }: the three keys, read as numpy writes them.
  auto value_of = [&](const std::string& key) {
    const auto at = header.find("'" + key + "':");
    if (at == std::string::npos) bad("npy header has no '" + key + "': " + excerpt(header, 80));
    std::size_t i = at + key.size() + 3;
    while (i < header.size() && header[i] == ' ') ++i;
    return i;
  };
  std::size_t i = value_of("descr");
  if (i >= header.size() || header[i] != '\'') bad("descr is not a string: " + excerpt(header, 80));
  const auto close = header.find('\'', i + 1);
  if (close == std::string::npos) bad("descr is not a string: " + excerpt(header, 80));
  const std::string descr = header.substr(i + 1, close - i - 1);
  struct Known {
    const char* descr;
    DType dtype;
  };
  static constexpr Known kKnown[] = {{"<f8", DType::F64}, {"<f4", DType::F32}, {"<f2", DType::F16}, {"<i8", DType::I64},
                                     {"<i4", DType::I32}, {"<u8", DType::U64}, {"<u4", DType::U32}, {"|u1", DType::U8},
                                     {"|i1", DType::I8},  {"|b1", DType::BOOL}, {"<V2", DType::BF16}, {"|V2", DType::BF16}};
  const auto known = std::find_if(std::begin(kKnown), std::end(kKnown), [&](const Known& k) { return descr == k.descr; });
  if (known == std::end(kKnown))
    bad("dtype '" + excerpt(descr, 20) + "' (read: <f8 <f4 <f2 <i8 <i4 <u8 <u4 |u1 |i1 |b1, and <V2 as bfloat16; big-endian is not)");
  TensorInfo t{.name = std::move(name), .dtype = known->dtype};
  i = value_of("fortran_order");
  const bool fortran = header.compare(i, 4, "True") == 0;
  if (!fortran && header.compare(i, 5, "False") != 0) bad("fortran_order is not True or False");
  i = value_of("shape");
  if (i >= header.size() || header[i] != '(') bad("shape is not a tuple: " + excerpt(header, 80));
  const auto end = header.find(')', i);
  if (end == std::string::npos) bad("shape is not a tuple: " + excerpt(header, 80));
  t.elements = 1;
  for (std::size_t j = i + 1; j < end;) {
    while (j < end && (header[j] == ' ' || header[j] == ',')) ++j;
    if (j == end) break;
    std::uint64_t extent = 0;
    std::size_t digits = 0;
    for (; j < end && header[j] >= '0' && header[j] <= '9'; ++j, ++digits) {
      if (extent > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) bad("shape overflows");
      extent = extent * 10 + static_cast<std::uint64_t>(header[j] - '0');
    }
    if (digits == 0 || (j < end && header[j] != ',' && header[j] != ' ')) bad("shape " + excerpt(header.substr(i, end - i + 1), 60) + " is not a tuple of sizes");
    if (extent != 0 && t.elements > std::numeric_limits<std::uint64_t>::max() / extent) bad("shape overflows");
    t.elements *= extent;
    t.shape.push_back(extent);
  }
  if (fortran && t.shape.size() > 1) bad("Fortran order: its elements are not in the C order every other tensor is read in");
  const std::uint64_t element_size = size_of(t.dtype);
  if (t.elements > std::numeric_limits<std::uint64_t>::max() / element_size || length - data_at != t.elements * element_size)
    bad("holds " + std::to_string(length - data_at) + " bytes of data; its shape needs " +
        (t.elements > std::numeric_limits<std::uint64_t>::max() / element_size ? std::string("more than a file holds")
                                                                                : std::to_string(t.elements * element_size)));
  t.begin = begin + data_at;
  t.end = begin + length;
  return t;
}

}  // namespace

bool is_zip(const std::uint8_t* bytes, std::size_t size) { return size >= 4 && std::memcmp(bytes, "PK\x03\x04", 4) == 0; }

namespace {

/// One entry of the central directory, checked to lie in the file.
struct Entry {
  std::string name;  ///< without ".npy"
  std::uint64_t method = 0, data = 0, compressed = 0, uncompressed = 0, crc = 0;
};

/// The central directory's entries (every offset checked against the file).
std::vector<Entry> entries_of(const Zip& z) {
  const std::uint8_t* bytes = z.bytes;
  const std::uint64_t size = z.size;
  // The end of central directory record: the last "PK\5\6", within the last 22 + 65535 bytes (its comment).
  if (size < 22) z.fail("is " + std::to_string(size) + " bytes long: too short for a ZIP archive");
  std::uint64_t eocd = size - 22;
  const std::uint64_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
  while (std::memcmp(bytes + eocd, "PK\x05\x06", 4) != 0) {
    if (eocd == lowest) z.fail("no end of central directory record: not a complete ZIP archive (.npz)");
    --eocd;
  }
  std::uint64_t entries = le(bytes + eocd + 10, 2), cd_size = le(bytes + eocd + 12, 4), cd_at = le(bytes + eocd + 16, 4);
  if (entries == 0xffff || cd_size == 0xffffffff || cd_at == 0xffffffff) {  // ZIP64: the locator just before
    if (eocd < 20 || std::memcmp(bytes + eocd - 20, "PK\x06\x07", 4) != 0) z.fail("ZIP64 sizes without a ZIP64 locator");
    const std::uint64_t record = le(bytes + eocd - 20 + 8, 8);
    z.need(record, 56, "the ZIP64 end of central directory record");
    if (std::memcmp(bytes + record, "PK\x06\x06", 4) != 0) z.fail("no ZIP64 end of central directory record where its locator points");
    entries = le(bytes + record + 32, 8);
    cd_size = le(bytes + record + 40, 8);
    cd_at = le(bytes + record + 48, 8);
  }
  z.need(cd_at, cd_size, "the central directory");
  std::vector<Entry> out;
  std::uint64_t at = cd_at;
  for (std::uint64_t k = 0; k < entries; ++k) {
    z.need(at, 46, "central directory entry " + std::to_string(k));
    const std::uint8_t* e = bytes + at;
    if (std::memcmp(e, "PK\x01\x02", 4) != 0) z.fail("central directory entry " + std::to_string(k) + " has no signature");
    const std::uint64_t flags = le(e + 8, 2), method = le(e + 10, 2), name_length = le(e + 28, 2),
                        extra_length = le(e + 30, 2), comment_length = le(e + 32, 2);
    std::uint64_t compressed = le(e + 20, 4), uncompressed = le(e + 24, 4), local = le(e + 42, 4);
    z.need(at + 46, name_length + extra_length + comment_length, "central directory entry " + std::to_string(k));
    std::string name(reinterpret_cast<const char*>(e + 46), name_length);
    // ZIP64 extra field (id 1): the 8-byte values of the fields saturated above, in this order.
    for (std::uint64_t x = 0; x + 4 <= extra_length;) {
      const std::uint8_t* f = e + 46 + name_length + x;
      const std::uint64_t id = le(f, 2), n = le(f + 2, 2);
      if (x + 4 + n > extra_length) z.fail("entry '" + excerpt(name, 80) + "': extra field runs past its entry");
      if (id == 1) {
        std::uint64_t y = 4;
        for (std::uint64_t* v : {&uncompressed, &compressed, &local})
          if (*v == 0xffffffff) {
            if (y + 8 > 4 + n) z.fail("entry '" + excerpt(name, 80) + "': ZIP64 extra field cut short");
            *v = le(f + y, 8);
            y += 8;
          }
      }
      x += 4 + n;
    }
    const std::string where = "entry '" + excerpt(name, 80) + "'";
    if (flags & 1) z.fail(where + " is encrypted");
    if (method != 0 && method != 8)
      z.fail(where + " is compressed by method " + std::to_string(method) +
             " (read: stored, as np.savez writes, and deflate, as np.savez_compressed does)");
    if (method == 0 && compressed != uncompressed)
      z.fail(where + ": stored, yet " + std::to_string(compressed) + " bytes hold " + std::to_string(uncompressed));
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".npy") != 0) z.fail(where + " is not an .npy array");
    z.need(local, 30, where + "'s local header");
    if (std::memcmp(bytes + local, "PK\x03\x04", 4) != 0) z.fail(where + "'s local header has no signature");
    const std::uint64_t data = local + 30 + le(bytes + local + 26, 2) + le(bytes + local + 28, 2);
    z.need(data, compressed, where);
    out.push_back({.name = name.substr(0, name.size() - 4), .method = method, .data = data, .compressed = compressed,
                   .uncompressed = uncompressed, .crc = le(e + 16, 4)});
    at += 46 + name_length + extra_length + comment_length;
  }
  return out;
}

/// The tensors of `entries` located in z (each entry's .npy at its `data`, `uncompressed` bytes long),
/// no two sharing bytes (a crafted archive could point two at one run).
View view_of(const Zip& z, const std::vector<Entry>& entries) {
  std::vector<TensorInfo> tensors;
  for (const Entry& e : entries) tensors.push_back(npy(z, e.name, e.data, e.uncompressed));
  std::vector<const TensorInfo*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (std::size_t k = 1; k < order.size(); ++k)
    if (order[k]->begin < order[k - 1]->end)
      z.fail("entries '" + excerpt(order[k - 1]->name, 60) + ".npy' and '" + excerpt(order[k]->name, 60) + ".npy' overlap");
  return View(z.bytes, std::move(tensors), z.file);
}

}  // namespace

View read_npz(const std::uint8_t* bytes, std::size_t size, const std::string& file) {
  const Zip z{bytes, size, file};
  const std::vector<Entry> entries = entries_of(z);
  for (const Entry& e : entries)
    if (e.method != 0)
      z.fail("entry '" + excerpt(e.name, 80) + ".npy' is compressed (np.savez_compressed): inflate_npz reads such an archive");
  return view_of(z, entries);
}

std::uint64_t npz_inflated_size(const std::uint8_t* bytes, std::size_t size, const std::string& file) {
  const std::vector<Entry> entries = entries_of(Zip{bytes, size, file});
  if (std::none_of(entries.begin(), entries.end(), [](const Entry& e) { return e.method != 0; })) return 0;
  std::uint64_t total = 0;
  for (const Entry& e : entries) {
    if (e.uncompressed > std::numeric_limits<std::uint64_t>::max() - total) Zip{bytes, size, file}.fail("inflated sizes overflow");
    total += e.uncompressed;
  }
  return total;
}

std::vector<InflatedEntry> inflate_npz(const std::uint8_t* bytes, std::size_t size, const std::string& file,
                                       const std::function<void(const std::uint8_t*, std::size_t)>& write) {
  const Zip z{bytes, size, file};
  std::vector<InflatedEntry> out;
  std::uint64_t at = 0;
  std::vector<std::uint8_t> buffer(std::size_t{1} << 16);
  for (const Entry& e : entries_of(z)) {
    const std::string where = "entry '" + excerpt(e.name, 80) + ".npy'";
    std::uint64_t produced = 0;
    uLong crc = crc32(0L, Z_NULL, 0);
    auto emit = [&](const std::uint8_t* p, std::size_t n) {
      if (n > e.uncompressed - produced)
        z.fail(where + " inflates to more than the " + std::to_string(e.uncompressed) + " bytes its header declares");
      produced += n;
      for (std::size_t done = 0; done < n;) {  // crc32 takes at most 2^32 - 1 bytes at once
        const auto chunk = static_cast<uInt>(std::min<std::size_t>(n - done, 1u << 30));
        crc = crc32(crc, p + done, chunk);
        done += chunk;
      }
      write(p, n);
    };
    if (e.method == 0) {  // a stored entry beside deflated ones: copied in pieces, as inflated ones are written
      for (std::uint64_t done = 0; done < e.compressed;) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(e.compressed - done, buffer.size()));
        emit(bytes + e.data + done, n);
        done += n;
      }
    } else {
      z_stream stream{};
      if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) z.fail(where + ": zlib cannot start inflating");  // raw deflate
      std::uint64_t consumed = 0;
      try {
        while (true) {
          if (stream.avail_in == 0 && consumed < e.compressed) {
            const std::uint64_t n = std::min<std::uint64_t>(e.compressed - consumed, std::uint64_t{1} << 30);
            stream.next_in = const_cast<Bytef*>(bytes + e.data + consumed);  // zlib does not write its input
            stream.avail_in = static_cast<uInt>(n);
            consumed += n;
          }
          stream.next_out = buffer.data();
          stream.avail_out = static_cast<uInt>(buffer.size());
          const int status = inflate(&stream, Z_NO_FLUSH);
          emit(buffer.data(), buffer.size() - stream.avail_out);
          if (status == Z_STREAM_END) break;
          // Z_BUF_ERROR: no progress was possible, which with room for output means the input ran out.
          if (status == Z_BUF_ERROR && stream.avail_in == 0 && consumed == e.compressed)
            z.fail(where + ": its deflate data ends before its stream does (" + std::to_string(produced) + " bytes inflated)");
          if (status != Z_OK)
            z.fail(where + ": its deflate data is corrupt (zlib: " + (stream.msg ? excerpt(stream.msg, 60) : std::to_string(status)) + ")");
        }
      } catch (...) {
        inflateEnd(&stream);
        throw;
      }
      inflateEnd(&stream);
    }
    if (produced != e.uncompressed)
      z.fail(where + " inflates to " + std::to_string(produced) + " bytes; its header declares " + std::to_string(e.uncompressed));
    if (crc != e.crc) z.fail(where + ": CRC-32 of its inflated bytes differs from its header's (a corrupt archive)");
    out.push_back({.name = e.name, .begin = at, .size = e.uncompressed});
    at += e.uncompressed;
  }
  return out;
}

View read_inflated_npz(const std::uint8_t* inflated, std::size_t size, const std::vector<InflatedEntry>& entries,
                       const std::string& file) {
  const Zip z{inflated, size, file};
  std::vector<Entry> located;
  for (const InflatedEntry& e : entries) {
    z.need(e.begin, e.size, "entry '" + excerpt(e.name, 80) + ".npy', inflated,");
    located.push_back({.name = e.name, .data = e.begin, .compressed = e.size, .uncompressed = e.size});
  }
  return view_of(z, located);
}

}  // namespace adamconf::safetensors
