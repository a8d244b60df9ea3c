//! AFL target: see [`stepwise_fuzz::intrinsic`].
fn main() {
    afl::fuzz!(|data: &[u8]| stepwise_fuzz::intrinsic(data));
}
