//! AFL target: see [`stepwise_fuzz::jsonpath`].
fn main() {
    afl::fuzz!(|data: &[u8]| stepwise_fuzz::jsonpath(data));
}
