//! A provider key in the clear, as the gateway holds it in memory: wiped when dropped, never
//! printed (`Debug` shows stars), and shown to people only as its preview.

use zeroize::Zeroizing;

#[derive(Clone)]
pub struct SecretText(Zeroizing<String>);

impl SecretText {
    pub fn new(text: String) -> SecretText {
        SecretText(Zeroizing::new(text))
    }

    /// Decrypted bytes, if they are text (they are: only text is ever sealed).
    pub fn from_bytes(bytes: &[u8]) -> Option<SecretText> {
        std::str::from_utf8(bytes)
            .ok()
            .map(|text| SecretText::new(text.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretText(*****)")
    }
}

/// What the API shows of a secret: its first and last characters, 4 of each at most and never
/// more than a quarter of the secret per side, so a short secret shows little or nothing.
pub fn preview(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let shown = (chars.len() / 4).min(4);
    let head: String = chars[..shown].iter().collect();
    let tail: String = chars[chars.len() - shown..].iter().collect();
    format!("{head}...{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_show_at_most_four_characters_each_side_and_less_of_short_secrets() {
        assert_eq!(preview("sk-proj-abcdefghijklmnop1234"), "sk-p...1234");
        assert_eq!(preview("abcdefgh"), "ab...gh");
        assert_eq!(preview("abc"), "...");
        assert_eq!(preview(""), "...");
        assert_eq!(
            format!("{:?}", SecretText::new("sk-live".into())),
            "SecretText(*****)"
        );
    }
}
