//! AFL target: see [`stepwise_fuzz::compile_definition`]. `fuzz_nohook`: a panic the library
//! catches itself (jsonata-core's, in `stepwise-asl`) is not a crash; one that
//! escapes aborts the run, which AFL records.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| stepwise_fuzz::compile_definition(data));
}
