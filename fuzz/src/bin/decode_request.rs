//! AFL target: see [`stepwise_fuzz::decode_request`].
fn main() {
    afl::fuzz!(|data: &[u8]| stepwise_fuzz::decode_request(data));
}
