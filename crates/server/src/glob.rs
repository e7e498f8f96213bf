//! Redis's glob dialect, for KEYS, SCAN MATCH, CONFIG GET and COMMAND LIST.

/// Redis's glob dialect (`*`, `?`, `[abc]`, `[^a-z]`, `\` escapes), over bytes.
///
/// Written here because no crate matches it: `glob` and `globset` treat `/` specially and
/// use `[!…]` for negation, `wildmatch` has no character classes; Redis users write `KEYS
/// user:[^0-9]*` and expect Redis's answer.
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    let tokens = tokenize(pattern);
    // The classic two-pointer walk: on a mismatch, retry from the last `*` one byte further.
    // Every other token matches exactly one byte, so remembering only the last star is
    // enough, and the cost is O(pattern × text) even for `a*a*a*…b`.
    let (mut t, mut p) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Token::Star) => {
                last_star = Some((p, t));
                p += 1;
            }
            Some(token) if token.matches(text[t]) => {
                p += 1;
                t += 1;
            }
            _ => match last_star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    last_star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(|token| matches!(token, Token::Star))
}

enum Token {
    Star,
    Any,
    Byte(u8),
    Class { negate: bool, ranges: Vec<(u8, u8)> },
}

impl Token {
    fn matches(&self, c: u8) -> bool {
        match self {
            Token::Star => true,
            Token::Any => true,
            Token::Byte(b) => *b == c,
            Token::Class { negate, ranges } => {
                ranges.iter().any(|(low, high)| (*low..=*high).contains(&c)) != *negate
            }
        }
    }
}

fn tokenize(mut pattern: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::with_capacity(pattern.len());
    while let Some((&p, rest)) = pattern.split_first() {
        pattern = rest;
        match p {
            b'*' => {
                if !matches!(tokens.last(), Some(Token::Star)) {
                    tokens.push(Token::Star);
                }
            }
            b'?' => tokens.push(Token::Any),
            b'[' => {
                let negate = pattern.first() == Some(&b'^');
                if negate {
                    pattern = &pattern[1..];
                }
                let mut ranges = Vec::new();
                loop {
                    match pattern {
                        [] => break,
                        [b'\\', escaped, rest @ ..] => {
                            ranges.push((*escaped, *escaped));
                            pattern = rest;
                        }
                        [b']', rest @ ..] => {
                            pattern = rest;
                            break;
                        }
                        [low, b'-', high, rest @ ..] if *high != b']' => {
                            ranges.push(if low <= high {
                                (*low, *high)
                            } else {
                                (*high, *low)
                            });
                            pattern = rest;
                        }
                        [single, rest @ ..] => {
                            ranges.push((*single, *single));
                            pattern = rest;
                        }
                    }
                }
                tokens.push(Token::Class { negate, ranges });
            }
            b'\\' if !pattern.is_empty() => {
                tokens.push(Token::Byte(pattern[0]));
                pattern = &pattern[1..];
            }
            literal => tokens.push(Token::Byte(literal)),
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_like_redis() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "anything", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("user:[0-9]*", "user:42:x", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "axb", false),
            ("", "", true),
            ("a*", "", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                matches(pattern.as_bytes(), text.as_bytes()),
                *expected,
                "{pattern} ~ {text}"
            );
        }
    }

    #[test]
    fn pathological_patterns_end() {
        let pattern = "a*".repeat(50) + "b";
        assert!(!matches(pattern.as_bytes(), "a".repeat(60).as_bytes()));
    }
}
