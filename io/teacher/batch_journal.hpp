// The batch journal: the remote batches a batch teacher created and which of their requests were answered,
// in a JSON Lines file each line of which is fsynced before the teacher goes on, so that a process that
// dies while its batches run picks their answers up later instead of paying for the requests again.
#pragma once

#include "io/common/result.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace tailor {

struct journaled_request {
  std::string custom_id;
  std::string key; // what identifies the request: the chat request's JSON
};

struct journaled_batch {
  std::string batch_id;
  std::string input_file_id;
  std::vector<journaled_request> requests;
};

class batch_journal {
public:
  // Without a file: remembers nothing, and every record succeeds.
  batch_journal() = default;
  // Reads `file`; a missing or empty one holds nothing yet. A problem names the file and line of anything
  // that is not a journal record, except a last line cut short by a crash (no newline after it), which is
  // dropped with a warning. Once batches are finished, or requests done, the file is rewritten (atomically)
  // with what is still unfinished only, so that it does not grow without end.
  static result<batch_journal> open(const std::filesystem::path& file);

  // The batches some requests of which are not done, each with those requests only, in file order.
  const std::vector<journaled_batch>& unfinished() const { return unfinished_; }
  const std::filesystem::path& file() const { return file_; }

  // Appends one line and fsyncs it (and the folder, when the file is new).
  status record_batch(const journaled_batch& batch);
  // The requests `custom_ids` of batch `batch_id` are answered (or given up): never to be resumed.
  status record_done(const std::string& batch_id, const std::vector<std::string>& custom_ids);

private:
  status append(const std::string& line);

  std::filesystem::path file_;
  std::vector<journaled_batch> unfinished_;
};

} // namespace tailor
