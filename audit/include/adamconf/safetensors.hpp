// Safetensors files, read as untrusted input and written atomically.
//
// The format (huggingface/safetensors, README "Format"): 8 bytes, a
// little-endian unsigned 64-bit header length N; N bytes of UTF-8 JSON, an
// object mapping each tensor name to {"dtype", "shape", "data_offsets": [begin,
// end]} and the optional "__metadata__" to an object of strings; then the data,
// each tensor's bytes at [begin, end) from the data's start, little-endian,
// row-major. The reference implementation (safetensors/src/tensor.rs) refuses a
// header above 100 000 000 bytes, offsets that are not contiguous, and a
// buffer with bytes no tensor owns (a file that is also another format); so
// does this reader, with one line naming the file and the tensor. Nothing of a
// tensor's data is read before its header entry is proved to lie in the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace adamconf::safetensors {

/// The element types of the format; values are read from the floating ones
/// and the integer ones (a step count).
enum class DType { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };
/// "F32" (the file's spelling).
const char* name(DType d);
/// Bytes per element.
std::size_t size_of(DType d);
/// Whether element values of d are read as numbers (every type but BOOL).
bool numeric(DType d);
/// The floating-point dtypes a tensor of values may have: F16, BF16, F32, F64 (not the F8 codes).
bool is_float(DType d);
/// The integer dtypes a tensor of codes may have: U8, I8, I16, U16, I32, U32, I64.
bool is_integer(DType d);
/// The floating-point dtype of an adamconf format name ("float32" -> F32); throws std::invalid_argument.
DType dtype_of_format(const std::string& format);

/// A file that is not a well-formed safetensors file, or lacks what is asked:
/// "FILE: tensor 'm/fc1.weight': data_offsets [0, 12] hold 3 elements, its shape [4] needs 4".
struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::uint64_t> shape{};
  std::uint64_t elements = 0;     ///< the product of shape (1 for a scalar)
  std::uint64_t begin = 0, end = 0;  ///< byte offsets within the data
};

/// A parsed file over bytes it does not own (a mapping, a fuzzer's input).
class View {
 public:
  /// Parses and validates the header of `bytes[0, size)`; `file` names it in
  /// every message. Throws FileError.
  View(const std::uint8_t* bytes, std::size_t size, std::string file);
  /// A view of tensors already located (read_npz): each one's [begin, end) from `data`.
  View(const std::uint8_t* data, std::vector<TensorInfo> tensors, std::string file);

  const std::string& file() const { return file_; }
  /// The tensor called `name`, or nullptr.
  const TensorInfo* find(const std::string& name) const;
  /// The tensor called `name`; throws FileError naming it when absent.
  const TensorInfo& at(const std::string& name) const;
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  /// Element i of t as a double (exact for every float type and for integers
  /// of at most 53 bits; an integer beyond throws FileError). i < t.elements.
  double value(const TensorInfo& t, std::uint64_t i) const;
  /// Elements [first, first + count) of t into out (resized).
  void values(const TensorInfo& t, std::uint64_t first, std::uint64_t count, std::vector<double>& out) const;
  /// Where element i of t lies.
  const std::uint8_t* address(const TensorInfo& t, std::uint64_t i) const { return data_ + t.begin + i * size_of(t.dtype); }

 private:
  const std::uint8_t* data_ = nullptr;  ///< the data section
  std::string file_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

/// The tensors of a NumPy .npz archive (np.savez: a ZIP of .npy files, each
/// stored uncompressed; a deflated entry is refused, see inflate_npz):
/// entry "theta/w.npy" is tensor "theta/w". Read as
/// untrusted, as a safetensors file is (audit/src/npz.cpp says what is
/// refused). `bytes` must start with the ZIP signature "PK\3\4".
View read_npz(const std::uint8_t* bytes, std::size_t size, const std::string& file);
/// Whether `bytes` start as a ZIP archive does (an .npz file).
bool is_zip(const std::uint8_t* bytes, std::size_t size);

/// An .npz archive with deflated entries (np.savez_compressed), read in two steps:
/// npz_inflated_size says how many bytes its entries inflate to (0: none is
/// compressed, read_npz reads it in place), inflate_npz writes every entry's
/// .npy bytes in turn to `write` (each checked to inflate to exactly its
/// declared size and CRC-32) and says where each begins in what was written,
/// and read_inflated_npz reads the tensors from those bytes as read_npz would.
/// Throws FileError naming the file and the entry.
struct InflatedEntry {
  std::string name;  ///< the tensor's name (the entry's without ".npy")
  std::uint64_t begin = 0, size = 0;
};
std::uint64_t npz_inflated_size(const std::uint8_t* bytes, std::size_t size, const std::string& file);
std::vector<InflatedEntry> inflate_npz(const std::uint8_t* bytes, std::size_t size, const std::string& file,
                                       const std::function<void(const std::uint8_t*, std::size_t)>& write);
View read_inflated_npz(const std::uint8_t* inflated, std::size_t size, const std::vector<InflatedEntry>& entries,
                       const std::string& file);

/// A file mapped read-only (pages are read as they are touched, so a file
/// larger than memory is streamed) and its View: a safetensors file, or an
/// .npz archive (told apart by its first bytes; a compressed one is inflated
/// into an unlinked temporary file in $TMPDIR, mapped in its place). Throws FileError naming the
/// path when it cannot be opened or is neither.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const View& view() const { return *view_; }
  /// Gives back the memory of the pages that lie wholly within elements
  /// [first, first + count) of t (read again from the file if touched later),
  /// so that reading a file window by window keeps memory at the windows'.
  void release(const TensorInfo& t, std::uint64_t first, std::uint64_t count) const;

 private:
  void inflate_into_temporary(const std::uint8_t* bytes, std::uint64_t inflated, const std::string& path);

  void* base_ = nullptr;  ///< the file's mapping (a compressed .npz: its inflated entries')
  std::size_t size_ = 0;
  std::unique_ptr<View> view_;
};

/// One tensor to write: its values, converted to `dtype` (each must be a
/// value of it: no rounding happens here), and its shape (none: [size]; an
/// empty one: a scalar).
struct TensorData {
  std::string name;
  DType dtype = DType::F32;
  std::vector<double> values;
  std::optional<std::vector<std::uint64_t>> shape{};
};
/// The bytes of a safetensors file holding `tensors` (in their order) and `metadata`.
std::string serialize(const std::vector<TensorData>& tensors, const std::map<std::string, std::string>& metadata = {});

}  // namespace adamconf::safetensors
