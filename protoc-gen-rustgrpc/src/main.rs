//! `protoc-gen-rustgrpc`: a protoc plugin that generates rustgrpc code
//! (prost messages, client stubs, servicer traits), one `<package>.rs` file
//! per proto package, and optionally an include file nesting them.
//!
//! ```text
//! protoc --plugin=protoc-gen-rustgrpc=/path/to/protoc-gen-rustgrpc \
//!        --rustgrpc_out=OUT_DIR [--rustgrpc_opt=emit=messages+client] foo.proto
//! ```
//!
//! All the work is done by [`grpc_codegen::plugin`], the same code path as
//! `build.rs` generation; `--help` lists the parameters.

use std::io::{self, Read, Write};
use std::panic;
use std::process::ExitCode;

const ABOUT: &str = "\
protoc-gen-rustgrpc: protoc plugin generating rustgrpc code (messages, stubs, servicers).

Usage:
  protoc --plugin=protoc-gen-rustgrpc=PATH --rustgrpc_out=DIR [--rustgrpc_opt=OPTIONS] FILES...

With buf, in buf.gen.yaml:
  plugins:
    - local: protoc-gen-rustgrpc
      out: src/gen
      opt: [include_file=mod.rs]

Run by protoc, it reads a CodeGeneratorRequest on stdin and writes a
CodeGeneratorResponse on stdout: one <package>.rs file per proto package of
the files to generate (_.rs for files without a package), byte for byte what
grpc_codegen::configure() writes from build.rs with the same options.
Problems are reported through protoc.
";

fn usage() -> String {
    let mut text = String::from(ABOUT);
    text.push_str("\nOptions (comma-separated, in --rustgrpc_opt or buf's opt):\n");
    for (syntax, meaning) in grpc_codegen::PARAMETERS {
        text.push_str(&format!("  {syntax}\n      {meaning}\n"));
    }
    text.push_str(
        "\nFlags (outside protoc):\n  -h, --help     print this help\n  -V, --version  print the version\n",
    );
    text
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    if let Some(arg) = args.next() {
        return match arg.as_str() {
            "-h" | "--help" => {
                print!("{}", usage());
                ExitCode::SUCCESS
            }
            "-V" | "--version" => {
                println!("protoc-gen-rustgrpc {}", env!("CARGO_PKG_VERSION"));
                ExitCode::SUCCESS
            }
            other => {
                eprintln!(
                    "protoc-gen-rustgrpc: unknown argument `{other}` (try --help)\n\
                     It is meant to be run by protoc: \
                     protoc --plugin=protoc-gen-rustgrpc=PATH --rustgrpc_out=DIR FILES..."
                );
                ExitCode::from(2)
            }
        };
    }

    // Generation reports panics (from prost-build, on malformed input) in
    // the response; the default hook would also spray a backtrace over
    // protoc's output.
    panic::set_hook(Box::new(|_| {}));

    let mut request = Vec::new();
    if let Err(error) = io::stdin().lock().read_to_end(&mut request) {
        eprintln!("protoc-gen-rustgrpc: cannot read the request from stdin: {error}");
        return ExitCode::FAILURE;
    }
    let response = match panic::catch_unwind(|| grpc_codegen::plugin::run_encoded(&request)) {
        Ok(response) => response,
        Err(_) => {
            eprintln!(
                "protoc-gen-rustgrpc: internal error while generating code; \
                 please report it with the .proto files"
            );
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = io::stdout().lock();
    if let Err(error) = stdout.write_all(&response).and_then(|()| stdout.flush()) {
        eprintln!("protoc-gen-rustgrpc: cannot write the response to stdout: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
