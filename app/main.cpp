// The pg2s3 command: `serve` runs the control API, `export` runs one export in this process.
#include "app/export_command.hpp"
#include "app/serve_command.hpp"
#include "app/settings.hpp"
#include "engine/job.hpp"

#include <CLI/CLI.hpp>

#include <iostream>

int main(int argc, char** argv) {
  using namespace pg2s3;
  CLI::App cli{"pg2s3 exports PostgreSQL query results to S3 as CSV or Parquet, streaming, in constant memory.", "pg2s3"};
  cli.set_version_flag("--version", std::string(PG2S3_VERSION));
  cli.footer(app::environment_help());
  cli.require_subcommand(1);

  app::Flags flags;
  auto* serve_command = cli.add_subcommand("serve", "Run the HTTP control API");
  serve_command->add_option("--listen", flags.listen, "HOST:PORT to listen on (PG2S3_LISTEN, default 127.0.0.1:8080)");
  serve_command->add_option("--config", flags.config_file, "TOML config file (PG2S3_CONFIG)");

  app::ExportArguments arguments;
  auto* export_command = cli.add_subcommand("export", "Run one export in this process and print its final status");
  export_command->add_option("DATASET", arguments.dataset, "Dataset to export (the config file names them)")->required();
  export_command->add_option("--key", arguments.key, "Object key (default: exports/<jobId>.csv[.gz|.zst] or .parquet)");
  export_command->add_option("--format", arguments.format, "csv or parquet (default: the dataset's, else csv)")
      ->check(CLI::IsMember({"csv", "parquet"}));
  export_command->add_option("--compression", arguments.compression,
                             "CSV: none (default), gzip or zstd; Parquet pages: none, snappy, gzip or zstd (default)")
      ->check(CLI::IsMember({"none", "snappy", "gzip", "zstd"}));
  export_command->add_option("--parallel", arguments.parallelism,
                             "Backends reading the dataset's table at once, in one snapshot (default: the dataset's, else 1)")
      ->check(CLI::Range(1, 64));
  export_command->add_option("--max-file-size", arguments.max_file_size,
                             "Split the output into files of at most SIZE (256MiB, 1GiB, bytes) and a manifest.json; "
                             "--key is then their prefix, --output their directory")
      ->check([](const std::string& size) {
        return pg2s3::engine::parse_byte_size(size) ? std::string() : "not a size such as 256MiB: " + size;
      });
  export_command->add_option("--output", arguments.output, "Write to FILE (or - for stdout) instead of S3");
  export_command->add_option("--param", arguments.params, "NAME=VALUE of one of the dataset's parameters (repeatable)")
      ->allow_extra_args(false);
  export_command->add_option("--config", flags.config_file, "TOML config file (PG2S3_CONFIG)");

  CLI11_PARSE(cli, argc, argv);

  auto loaded = app::load_settings(flags, app::process_environment());
  if (auto* problem = std::get_if<std::string>(&loaded)) {
    std::cerr << "pg2s3: " << *problem << "\n";
    return 2;
  }
  const auto& settings = std::get<app::Settings>(loaded);
  if (serve_command->parsed()) return app::run_server(settings, flags);
  return app::run_export(settings, arguments);
}
