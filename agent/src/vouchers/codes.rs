//! Voucher codes and passwords from the operating system's CSPRNG (getrandom), drawn
//! uniformly from the configured alphabet by rejection sampling (no modulo bias).

use firmware_config::plans::CodeMode;
use firmware_config::VoucherCodeConfig;

/// Why a code could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// The operating system's random source failed (very early boot, broken kernel).
    #[error("the system random number generator failed ({0}); codes cannot be made safely, so nothing was sold: check the kernel's entropy source (/dev/urandom) and restart the agent")]
    Random(String),
    /// The alphabet is unusable (the config validator normally prevents this).
    #[error(
        "[vouchers] alphabet {0:?} has fewer than 2 distinct characters; fix it in the config file"
    )]
    Alphabet(String),
}

/// A login for one voucher.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name (the code printed in large type).
    pub code: String,
    /// Password; equal to `code` in user=password mode.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Codes are the customer's login: keep them out of debug logs.
        f.debug_struct("Credentials")
            .field("code", &"***")
            .field("password", &"***")
            .finish()
    }
}

/// Makes codes according to `[vouchers]`.
#[derive(Debug, Clone)]
pub struct CodeGenerator {
    alphabet: Vec<char>,
    length: usize,
    prefix: String,
    mode: CodeMode,
    password_length: usize,
}

impl CodeGenerator {
    /// From the config section.
    pub fn new(cfg: &VoucherCodeConfig) -> Result<CodeGenerator, CodeError> {
        let mut alphabet: Vec<char> = Vec::new();
        for c in cfg.alphabet.chars() {
            if !alphabet.contains(&c) {
                alphabet.push(c);
            }
        }
        if alphabet.len() < 2 || alphabet.len() > 256 {
            return Err(CodeError::Alphabet(cfg.alphabet.clone()));
        }
        Ok(CodeGenerator {
            alphabet,
            length: cfg.length.max(1),
            prefix: cfg.prefix.clone(),
            mode: cfg.mode,
            password_length: cfg.password_length.max(1),
        })
    }

    /// Random characters from the alphabet. A byte is accepted only below the largest
    /// multiple of the alphabet size that fits in 256, so every character is equally likely.
    pub fn random_string(&self, len: usize) -> Result<String, CodeError> {
        let n = self.alphabet.len();
        let limit = 256 - (256 % n);
        let mut out = String::with_capacity(len);
        let mut buf = [0u8; 64];
        while out.len() < len {
            getrandom::fill(&mut buf).map_err(|e| CodeError::Random(e.to_string()))?;
            for &b in &buf {
                if (b as usize) < limit {
                    out.push(self.alphabet[b as usize % n]);
                    if out.chars().count() == len {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// A fresh code (prefix + random part) and its password.
    pub fn generate(&self) -> Result<Credentials, CodeError> {
        let code = format!("{}{}", self.prefix, self.random_string(self.length)?);
        let password = match self.mode {
            CodeMode::UserEqualsPassword => code.clone(),
            CodeMode::SeparatePassword => self.random_string(self.password_length)?,
        };
        Ok(Credentials { code, password })
    }

    /// A code not accepted by `taken` (the cache, a set of router names); gives up
    /// after a few tries, which only happens when the code space is nearly full.
    pub fn generate_unique(
        &self,
        mut taken: impl FnMut(&str) -> bool,
    ) -> Result<Option<Credentials>, CodeError> {
        for _ in 0..16 {
            let c = self.generate()?;
            if !taken(&c.code) {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }

    /// How many different codes exist (saturating), for warnings about small spaces.
    pub fn space(&self) -> u128 {
        (self.alphabet.len() as u128).saturating_pow(self.length as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(alphabet: &str, length: usize) -> VoucherCodeConfig {
        VoucherCodeConfig {
            alphabet: alphabet.into(),
            length,
            ..VoucherCodeConfig::default()
        }
    }

    #[test]
    fn codes_have_the_prefix_length_and_only_alphabet_characters() {
        let g = CodeGenerator::new(&VoucherCodeConfig {
            prefix: "WF-".into(),
            ..config("ACDEFHJKMN", 6)
        })
        .unwrap();
        for _ in 0..200 {
            let c = g.generate().unwrap();
            assert!(c.code.starts_with("WF-"), "{}", c.code);
            assert_eq!(c.code.len(), 9);
            assert!(
                c.code[3..].chars().all(|ch| "ACDEFHJKMN".contains(ch)),
                "{}",
                c.code
            );
            assert_eq!(c.code, c.password, "user=password is the default mode");
        }
    }

    #[test]
    fn separate_password_mode_makes_a_different_password_of_its_length() {
        let g = CodeGenerator::new(&VoucherCodeConfig {
            mode: CodeMode::SeparatePassword,
            password_length: 5,
            ..config(firmware_config::plans::DEFAULT_ALPHABET, 8)
        })
        .unwrap();
        let c = g.generate().unwrap();
        assert_eq!(c.password.len(), 5);
        assert_ne!(c.code, c.password);
    }

    #[test]
    fn every_character_of_an_odd_sized_alphabet_is_about_equally_likely() {
        // 23 characters: 256 % 23 = 3, so plain modulo would favour the first 3.
        let g = CodeGenerator::new(&config(firmware_config::plans::DEFAULT_ALPHABET, 8)).unwrap();
        let s = g.random_string(230_000).unwrap();
        let mut counts = std::collections::HashMap::new();
        for c in s.chars() {
            *counts.entry(c).or_insert(0u32) += 1;
        }
        assert_eq!(counts.len(), 23);
        // Expected 10,000 each; a biased generator puts the first three near 10,100
        // and the rest lower, but sampling noise is ~100, so allow 5 %.
        for (c, n) in counts {
            assert!((9_500..=10_500).contains(&n), "{c} drawn {n} times");
        }
    }

    #[test]
    fn unique_generation_skips_codes_that_are_taken() {
        let g = CodeGenerator::new(&config("AB", 1)).unwrap();
        let c = g.generate_unique(|code| code == "A").unwrap().unwrap();
        assert_eq!(c.code, "B");
        assert!(g.generate_unique(|_| true).unwrap().is_none());
    }

    #[test]
    fn look_alike_characters_are_absent_from_the_default_alphabet() {
        let g = CodeGenerator::new(&VoucherCodeConfig::default()).unwrap();
        let s = g.random_string(5000).unwrap();
        assert!(!s.contains(['0', 'O', '1', 'l', 'I', 'i']), "{s}");
        assert!(g.space() > 10u128.pow(10));
    }
}
