//! Task tokens: opaque, unforgeable (HMAC-SHA256 with a key kept in the
//! store), naming the execution and the event that scheduled the task.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token this server made (bad encoding or signature).
    #[error("Invalid Token: the task token is malformed or was not issued by this server")]
    Invalid,
}

/// What a token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRef {
    /// The execution ARN.
    pub execution: String,
    /// The id of the scheduling event.
    pub scheduled_id: i64,
}

/// Signs and checks tokens.
#[derive(Clone)]
pub struct TokenSigner {
    /// The MAC with the key already absorbed (HMAC accepts keys of any
    /// length, so this is only `None` if that ever changes): each token
    /// clones it instead of hashing the key again, half the hashing.
    keyed: Option<HmacSha256>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

impl TokenSigner {
    /// A signer with `key`.
    pub fn new(key: Vec<u8>) -> Self {
        Self {
            keyed: HmacSha256::new_from_slice(&key).ok(),
        }
    }

    fn mac(&self, payload: &[u8]) -> Vec<u8> {
        match self.keyed.clone() {
            Some(mut m) => {
                m.update(payload);
                m.finalize().into_bytes().to_vec()
            }
            None => Vec::new(),
        }
    }

    /// The token for task `scheduled_id` of `execution`.
    pub fn sign(&self, execution: &str, scheduled_id: i64) -> String {
        let payload = format!("{scheduled_id}:{execution}");
        let mac = self.mac(payload.as_bytes());
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(&mac[..16.min(mac.len())])
        )
    }

    /// Checks a token and says what it names.
    pub fn verify(&self, token: &str) -> Result<TaskRef, TokenError> {
        if token.len() > 2048 {
            return Err(TokenError::Invalid);
        }
        let (p, m) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| TokenError::Invalid)?;
        let mac = URL_SAFE_NO_PAD.decode(m).map_err(|_| TokenError::Invalid)?;
        let mut verifier = self.keyed.clone().ok_or(TokenError::Invalid)?;
        verifier.update(&payload);
        verifier
            .verify_truncated_left(&mac)
            .map_err(|_| TokenError::Invalid)?;
        if mac.len() < 16 {
            return Err(TokenError::Invalid);
        }
        let text = String::from_utf8(payload).map_err(|_| TokenError::Invalid)?;
        let (id, exec) = text.split_once(':').ok_or(TokenError::Invalid)?;
        let scheduled_id = id.parse().map_err(|_| TokenError::Invalid)?;
        Ok(TaskRef {
            execution: exec.to_owned(),
            scheduled_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_forgery() {
        let s = TokenSigner::new(b"secret".to_vec());
        let t = s.sign("arn:aws:states:us-east-1:1:execution:m:e", 5);
        assert_eq!(
            s.verify(&t).unwrap(),
            TaskRef {
                execution: "arn:aws:states:us-east-1:1:execution:m:e".into(),
                scheduled_id: 5
            }
        );
        let other = TokenSigner::new(b"other".to_vec());
        assert_eq!(other.verify(&t), Err(TokenError::Invalid));
        for bad in [
            "",
            ".",
            "abc",
            "abc.def",
            &t[..t.len() - 2],
            &"x".repeat(5000),
        ] {
            assert_eq!(s.verify(bad), Err(TokenError::Invalid), "{bad}");
        }
        // Changing the payload breaks the signature.
        let forged = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode("6:arn:aws:states:us-east-1:1:execution:m:e"),
            t.split_once('.').unwrap().1
        );
        assert_eq!(s.verify(&forged), Err(TokenError::Invalid));
    }
}
