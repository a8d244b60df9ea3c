//! AFL target: see [`stepwise_fuzz::compile_definition`].
fn main() {
    afl::fuzz!(|data: &[u8]| stepwise_fuzz::compile_definition(data));
}
