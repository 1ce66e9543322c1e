//! Check digits and dates: the arithmetic that turns a pattern match into a
//! validated finding.

/// The GB 11643-1999 check character (ISO 7064 MOD 11-2) of the first 17
/// digits of a resident ID number, or None when they are not 17 ASCII digits.
pub fn gb11643_check(first17: &[u8]) -> Option<u8> {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let s: u32 = first17
        .iter()
        .zip(W)
        .map(|(d, w)| (d - b'0') as u32 * w)
        .sum();
    Some(C[(s % 11) as usize])
}

/// The GB 32100-2015 alphabet: digits and capitals without I, O, S, V, Z.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

fn uscc_value(c: u8) -> Option<u32> {
    USCC_ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The GB 32100-2015 check character of the first 17 characters of a unified
/// social credit code, or None when a character is outside its alphabet.
pub fn gb32100_check(first17: &[u8]) -> Option<u8> {
    const W: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    if first17.len() != 17 {
        return None;
    }
    let mut s = 0;
    for (c, w) in first17.iter().zip(W) {
        s += uscc_value(*c)? * w;
    }
    Some(USCC_ALPHABET[((31 - s % 31) % 31) as usize])
}

/// Whether the organisation-code part (GB 11714: eight characters and a check
/// character) of a credit code checks. Codes issued since 2015 (MA…) often do
/// not, so this only raises confidence.
pub(crate) fn gb11714_valid(code9: &[u8]) -> bool {
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    if code9.len() != 9 {
        return false;
    }
    let mut s = 0;
    for (c, w) in code9[..8].iter().zip(W) {
        let v = match c {
            b'0'..=b'9' => (c - b'0') as u32,
            b'A'..=b'Z' => (c - b'A') as u32 + 10,
            _ => return false,
        };
        s += v * w;
    }
    let check = match 11 - s % 11 {
        10 => b'X',
        11 => b'0',
        d => b'0' + d as u8,
    };
    code9[8] == check
}

/// Whether ASCII digits pass the Luhn (mod 10) check.
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut sum = 0u32;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut v = (d - b'0') as u32;
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

/// Whether YYYYMMDD is a real date from 1900-01-01 up to `today` (YYYYMMDD).
pub(crate) fn valid_birth_date(y: u32, m: u32, d: u32, today: u32) -> bool {
    if y < 1900 || !(1..=12).contains(&m) || d == 0 {
        return false;
    }
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= days && y * 10000 + m * 100 + d <= today
}

/// Today's UTC date as YYYYMMDD (birth dates after it are impossible).
pub fn today_yyyymmdd() -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    civil_from_days((secs / 86_400) as i64)
}

/// Days since 1970-01-01 → YYYYMMDD (H. Hinnant's civil-from-days algorithm).
fn civil_from_days(z: i64) -> u32 {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y * 10000 + m * 100 + d) as u32
}

/// The canonical 18-character form of a resident ID number: a lowercase `x`
/// upper-cased, a legacy 15-digit number upgraded (century 19 inserted, check
/// digit computed). None when it is neither form. Person keys hash this form,
/// so both forms of one person's number count once.
pub fn normalise_resident_id(raw: &[u8]) -> Option<[u8; 18]> {
    let mut out = [0u8; 18];
    match raw.len() {
        18 => {
            out.copy_from_slice(raw);
            if out[17] == b'x' {
                out[17] = b'X';
            }
            (out[..17].iter().all(u8::is_ascii_digit)
                && (out[17].is_ascii_digit() || out[17] == b'X'))
                .then_some(out)
        }
        15 if raw.iter().all(u8::is_ascii_digit) => {
            out[..6].copy_from_slice(&raw[..6]);
            out[6..8].copy_from_slice(b"19");
            out[8..17].copy_from_slice(&raw[6..15]);
            out[17] = gb11643_check(&out[..17])?;
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits() {
        assert_eq!(gb11643_check(b"11010119900307803"), Some(b'X'));
        assert_eq!(gb11643_check(b"11010119000101001"), Some(b'4'));
        assert_eq!(gb32100_check(b"91110101MA0000007"), Some(b'T'));
        assert_eq!(gb32100_check(b"91110101123456788"), Some(b'9'));
        assert!(gb11714_valid(b"123456788"));
        assert!(luhn_valid(b"6200000000000005"));
        assert!(!luhn_valid(b"6200000000000006"));
    }

    #[test]
    fn dates() {
        assert!(valid_birth_date(2000, 2, 29, 20260101));
        assert!(!valid_birth_date(1900, 2, 29, 20260101));
        assert!(!valid_birth_date(2099, 12, 31, 20260101));
        assert_eq!(civil_from_days(0), 19700101);
        assert_eq!(civil_from_days(11_016), 20000229);
        assert!(today_yyyymmdd() > 20240101);
    }

    #[test]
    fn normalise() {
        assert_eq!(
            &normalise_resident_id(b"83000019000101002x").unwrap(),
            b"83000019000101002X"
        );
        let up = normalise_resident_id(b"110101000101001").unwrap();
        assert_eq!(&up[..17], b"11010119000101001");
        assert_eq!(up[17], gb11643_check(&up[..17]).unwrap());
    }
}
