// scripted_llm_server: the scripted fake LLM endpoint as a process, for end-to-end tests that
// drive whole evokernel runs (see scripted_llm_server.h for the script format).
//
//   scripted_llm_server --script S.json --port-file PORT [--port N] [--log REQUESTS.jsonl]
//
// Listens on 127.0.0.1 (ephemeral port unless --port), writes the port number to --port-file
// atomically once it accepts connections, and serves until SIGTERM or SIGINT. Exit code 0 after a
// signal, 2 when the script is invalid or the port cannot be bound.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "common/fs.h"
#include "support/scripted_llm_server.h"

int main(int argc, char** argv) {
  using namespace evokernel;
  CLI::App app{"Scripted OpenAI/Anthropic-compatible LLM endpoint on 127.0.0.1, for tests"};
  std::string script_file, port_file, log_file;
  int port = 0;
  app.add_option("--script", script_file,
                 "Script JSON file (format: tests/support/scripted_llm_server.h)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--port-file", port_file, "Where to write the port once listening")->required();
  app.add_option("--port", port, "Port (default 0: ephemeral)")
      ->default_val(0)
      ->check(CLI::Range(0, 65535));
  app.add_option("--log", log_file, "Append one JSON line per request (path, body, answered_by)");
  CLI11_PARSE(app, argc, argv);

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto script = testing::LoadScript(script_file);
  if (!script.ok()) {
    std::cerr << "scripted_llm_server: " << script.status().ToString() << "\n";
    return 2;
  }
  auto server = testing::ScriptedLlmServer::Start(std::move(script).value(), port, log_file);
  if (!server.ok()) {
    std::cerr << "scripted_llm_server: " << server.status().ToString() << "\n";
    return 2;
  }
  Status st = WriteFileAtomic(port_file, std::to_string((*server)->port()) + "\n");
  if (!st.ok()) {
    std::cerr << "scripted_llm_server: " << st.ToString() << "\n";
    return 2;
  }
  std::cerr << "scripted_llm_server: listening on " << (*server)->url() << "\n";
  int sig = 0;
  sigwait(&stop, &sig);
  (*server)->Stop();
  std::cerr << "scripted_llm_server: stopped after " << (*server)->RequestCount()
            << " request(s)\n";
  return 0;
}
