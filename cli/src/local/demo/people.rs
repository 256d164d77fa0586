//! The demo tenant's raw material: a deterministic random source, names, and mobile numbers
//! written the way AD holds them.

/// SplitMix64: tiny, deterministic, good enough to spread demo data.
#[derive(Debug, Clone)]
pub struct DemoRng(u64);

impl DemoRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// `n` random decimal digits.
    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

pub(super) const FIRST: &[&str] = &[
    "Anna", "Bram", "Chloe", "Daan", "Emma", "Finn", "Greta", "Hugo", "Iris", "Jonas", "Kim",
    "Lars", "Mila", "Noah", "Olivia", "Pieter", "Quinn", "Ruby", "Sven", "Tess", "Umar", "Vera",
    "Wout", "Xander", "Yara", "Zoe", "Aisha", "Ben", "Carlos", "Deepa", "Elena", "Felix", "Hana",
    "Ivan", "Jasper", "Klaus", "Lucia", "Marek", "Nina", "Oscar", "Priya", "Rosa", "Sanne",
    "Thomas",
];
pub(super) const LAST: &[&str] = &[
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Dekker",
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Johnson",
    "Garcia",
    "Martinez",
    "Lopez",
    "Dubois",
    "Martin",
    "Bernard",
    "Peeters",
    "Janssens",
    "Maes",
    "Sharma",
    "Patel",
    "Kumar",
    "Rossi",
    "Keller",
    "Huber",
    "Novak",
    "Kowalski",
];

/// A valid, SMS-capable mobile number from one of nine countries, written the way AD might
/// hold it. Dutch numbers are often national (the demo policy's default region is NL).
pub fn mobile_number(rng: &mut DemoRng) -> (String, &'static str) {
    // Numbering plans allocate in blocks finer than these patterns; keep only candidates
    // libphonenumber (the same check enrollment makes) accepts as SMS-capable.
    let region = "NL".parse().ok();
    for _ in 0..64 {
        let (raw, country) = candidate_number(rng);
        if autoenroll_core::phone::normalize(&raw, region).is_ok_and(|n| n.is_sms_capable()) {
            return (raw, country);
        }
    }
    ("06-12345678".to_owned(), "NL")
}

fn candidate_number(rng: &mut DemoRng) -> (String, &'static str) {
    let country = rng.below(100);
    match country {
        0..45 => {
            let n = format!("6{}{}", rng.pick(&["1", "2", "3", "4", "5"]), rng.digits(7));
            let formatted = match rng.below(6) {
                0 => format!("0{}-{}", &n[..1], &n[1..]),
                1 => format!("0{} {} {}", &n[..1], &n[1..5], &n[5..]),
                2 => format!("+31 {} {}", &n[..1], &n[1..]),
                3 => format!("+31{n}"),
                4 => format!("0031 {} {} {}", &n[..1], &n[1..5], &n[5..]),
                _ => format!("+31 (0){} {}", &n[..1], &n[1..]),
            };
            (formatted, "NL")
        }
        45..57 => {
            let prefix = rng.pick(&["170", "171", "175"]);
            let rest = rng.digits(7);
            let formatted = if rng.below(2) == 0 {
                format!("+49 {prefix} {rest}")
            } else {
                format!("+49 (0){prefix}-{rest}")
            };
            (formatted, "DE")
        }
        57..67 => {
            let prefix = rng.pick(&["7400", "7500", "7800", "7956", "7824"]);
            (format!("+44 {prefix} {}", rng.digits(6)), "GB")
        }
        67..77 => {
            let area = rng.pick(&["206", "425"]);
            let line = format!("01{}", rng.digits(2));
            let formatted = match rng.below(3) {
                0 => format!("+1 ({area}) 555-{line}"),
                1 => format!("+1 {area}-555-{line}"),
                _ => format!("+1 {area} 555 {line}"),
            };
            (formatted, "US")
        }
        77..83 => (
            format!(
                "+32 47{} {} {} {}",
                rng.digits(1),
                rng.digits(2),
                rng.digits(2),
                rng.digits(2)
            ),
            "BE",
        ),
        83..89 => {
            // 6 and 73–78 are France's mobile ranges.
            let n = if rng.below(3) == 0 {
                format!("7{}{}", rng.pick(&["3", "5", "6", "8"]), rng.digits(7))
            } else {
                format!(
                    "6{}{}",
                    rng.pick(&["1", "2", "3", "4", "5", "7", "8"]),
                    rng.digits(7)
                )
            };
            (
                format!(
                    "+33 {} {} {} {} {}",
                    &n[..1],
                    &n[1..3],
                    &n[3..5],
                    &n[5..7],
                    &n[7..]
                ),
                "FR",
            )
        }
        89..94 => (
            format!("+34 6{} {} {}", rng.digits(2), rng.digits(3), rng.digits(3)),
            "ES",
        ),
        94..97 => (format!("+91 98{} {}", rng.digits(3), rng.digits(5)), "IN"),
        _ => (
            format!(
                "+41 79 {} {} {}",
                rng.digits(3),
                rng.digits(2),
                rng.digits(2)
            ),
            "CH",
        ),
    }
}

/// The same kind of number in Graph's format (what a user types in My Sign-Ins).
pub(super) fn own_phone(rng: &mut DemoRng) -> String {
    format!(
        "+31 6{}{}",
        rng.pick(&["1", "2", "3", "4", "5"]),
        rng.digits(7)
    )
}
