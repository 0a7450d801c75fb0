//! `protoc-gen-rustgrpc`: a protoc plugin that generates rustgrpc code
//! (prost messages, client stubs, servicer traits), one `<package>.rs` file
//! per proto package.
//!
//! ```text
//! protoc --plugin=protoc-gen-rustgrpc=/path/to/protoc-gen-rustgrpc \
//!        --rustgrpc_out=OUT_DIR [--rustgrpc_opt=emit=client] foo.proto
//! ```
//!
//! All the work is done by [`grpc_codegen::plugin`], the same code path as
//! `build.rs` generation.

use std::io::{self, Read, Write};
use std::process::ExitCode;

const USAGE: &str = "\
protoc-gen-rustgrpc: protoc plugin generating rustgrpc code (messages, stubs, servicers).

Usage:
  protoc --plugin=protoc-gen-rustgrpc=PATH --rustgrpc_out=DIR [--rustgrpc_opt=OPTIONS] FILES...

Run by protoc, it reads a CodeGeneratorRequest on stdin and writes a
CodeGeneratorResponse on stdout, with one <package>.rs file per proto package.

Options (comma-separated):
  emit=client|server|both           which halves of each service to generate (default: both)
  extern_path=PROTO_PATH=RUST_PATH  use an existing Rust type for a proto type or package

Flags:
  -h, --help     print this help
  -V, --version  print the version
";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    if let Some(arg) = args.next() {
        return match arg.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                ExitCode::SUCCESS
            }
            "-V" | "--version" => {
                println!("protoc-gen-rustgrpc {}", env!("CARGO_PKG_VERSION"));
                ExitCode::SUCCESS
            }
            other => {
                eprintln!("protoc-gen-rustgrpc: unknown argument `{other}`\n\n{USAGE}");
                ExitCode::from(2)
            }
        };
    }

    let mut request = Vec::new();
    if let Err(error) = io::stdin().lock().read_to_end(&mut request) {
        eprintln!("protoc-gen-rustgrpc: cannot read the request from stdin: {error}");
        return ExitCode::FAILURE;
    }
    let response = grpc_codegen::plugin::run_encoded(&request);
    let mut stdout = io::stdout().lock();
    if let Err(error) = stdout.write_all(&response).and_then(|()| stdout.flush()) {
        eprintln!("protoc-gen-rustgrpc: cannot write the response to stdout: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
