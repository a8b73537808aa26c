#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "adamconf/process_implementation.hpp"

namespace adamconf {

namespace {

using Clock = std::chrono::steady_clock;

void make_pipe(int fds[2]) {
  if (::pipe2(fds, O_CLOEXEC) != 0) throw AdapterFailure(std::string("cannot create a pipe: ") + std::strerror(errno), false);
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::string describe_status(int status) {
  if (WIFEXITED(status)) {
    const int code = WEXITSTATUS(status);
    std::string text = "exited with status " + std::to_string(code);
    // /bin/sh -c reports a child killed by signal N as status 128 + N
    if (code > 128 && code < 128 + 65)
      text += " (its command was killed by signal " + std::to_string(code - 128) + ", " + ::strsignal(code - 128) + ")";
    return text;
  }
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                  ::strsignal(WTERMSIG(status)) + ")";
  return "stopped";
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

}  // namespace

AdapterProcess::AdapterProcess(const std::string& command, double timeout_seconds) : timeout_(timeout_seconds) {
  ::signal(SIGPIPE, SIG_IGN);  // a dead adapter's stdin gives EPIPE, not a signal
  int in[2], out[2], err[2];
  make_pipe(in);
  make_pipe(out);
  make_pipe(err);
  pid_ = ::fork();
  if (pid_ < 0) throw AdapterFailure(std::string("cannot start the adapter: ") + std::strerror(errno), false);
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  stdin_ = in[1];
  stdout_ = out[0];
  stderr_ = err[0];
  set_nonblocking(stdin_);
  set_nonblocking(stdout_);
  set_nonblocking(stderr_);
}

AdapterProcess::~AdapterProcess() {
  if (stdin_ >= 0) ::close(stdin_);
  if (!reaped_ && pid_ > 0) {
    // Give it a moment to exit at end of input, then kill the whole group.
    for (int k = 0; k < 20; ++k) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!reaped_) kill_group();
  }
  if (stdout_ >= 0) ::close(stdout_);
  if (stderr_ >= 0) ::close(stderr_);
}

void AdapterProcess::kill_group() {
  if (pid_ <= 0 || reaped_) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  reaped_ = true;
}

void AdapterProcess::drain_stderr() {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(stderr_, buf, sizeof buf);
    if (n <= 0) break;
    stderr_text_.append(buf, static_cast<std::size_t>(n));
    if (stderr_text_.size() > 16384) stderr_text_.erase(0, stderr_text_.size() - 8192);
  }
}

std::string AdapterProcess::stderr_tail() const {
  // the last three non-empty lines, joined
  std::vector<std::string> lines;
  std::string line;
  for (char c : stderr_text_) {
    if (c == '\n') {
      if (!line.empty()) lines.push_back(line);
      line.clear();
    } else {
      line += c;
    }
  }
  if (!line.empty()) lines.push_back(line);
  std::string out;
  for (std::size_t k = lines.size() > 3 ? lines.size() - 3 : 0; k < lines.size(); ++k)
    out += (out.empty() ? "" : " | ") + lines[k].substr(0, 200);
  return out;
}

void AdapterProcess::fail_exited(const std::string& what) {
  int status = 0;
  // the pipe closed; the process is exiting or gone
  for (int k = 0; k < 100 && !reaped_; ++k) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  drain_stderr();
  const std::string how = reaped_ ? describe_status(status) : "closed its stdout";
  if (!reaped_) kill_group();
  const std::string tail = stderr_tail();
  throw AdapterFailure("adapter " + how + " before answering " + what + (tail.empty() ? "" : "; stderr: " + tail),
                       false);
}

std::string AdapterProcess::exchange(const std::string& request, const std::string& what) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_);
  std::string line = request + "\n";
  std::size_t written = 0;
  for (;;) {
    const auto newline = pending_.find('\n');
    if (newline != std::string::npos && written == line.size()) {
      std::string answer = pending_.substr(0, newline);
      pending_.erase(0, newline + 1);
      return answer;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      kill_group();
      throw AdapterFailure("adapter did not answer " + what + " within " + seconds_text(timeout_) +
                               " s (killed; --timeout sets the limit)",
                           true);
    }
    pollfd fds[3] = {{stdout_, POLLIN, 0}, {stderr_, POLLIN, 0}, {stdin_, POLLOUT, 0}};
    const nfds_t count = written < line.size() ? 3 : 2;
    const int ready = ::poll(fds, count, static_cast<int>(std::min<long long>(left, 1000)));
    if (ready < 0 && errno != EINTR) throw AdapterFailure(std::string("poll failed: ") + std::strerror(errno), false);
    if (fds[1].revents) drain_stderr();
    if (count == 3 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      const ssize_t n = ::write(stdin_, line.data() + written, line.size() - written);
      if (n < 0 && errno == EPIPE) fail_exited(what);
      if (n > 0) written += static_cast<std::size_t>(n);
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[65536];
      const ssize_t n = ::read(stdout_, buf, sizeof buf);
      if (n == 0) fail_exited(what);
      if (n > 0) {
        pending_.append(buf, static_cast<std::size_t>(n));
        if (pending_.size() > (std::size_t{1} << 28)) {
          kill_group();
          throw AdapterFailure("adapter answered " + what + " with more than 256 MiB without a newline", false);
        }
      }
    }
  }
}

}  // namespace adamconf
