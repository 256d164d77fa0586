use super::*;

fn region(code: &str) -> Option<RegionCode> {
    Some(code.parse().unwrap())
}

enum Want {
    Ok(&'static str, PhoneKind),
    Err(PhoneRejection),
}
use PhoneKind::*;
use Want::Ok as Num;

fn rej(r: PhoneRejection) -> Want {
    Want::Err(r)
}

/// Realistic values as they sit in AD's `mobile` / `telephoneNumber` and HR feeds.
fn table() -> Vec<(&'static str, &'static str, Want)> {
    vec![
        // Netherlands
        ("06-12345678", "NL", Num("+31 612345678", Mobile)),
        ("0612345678", "NL", Num("+31 612345678", Mobile)),
        ("06 1234 5678", "NL", Num("+31 612345678", Mobile)),
        ("0031 6 1234 5678", "NL", Num("+31 612345678", Mobile)),
        ("+31 (0)6 12345678", "NL", Num("+31 612345678", Mobile)),
        ("+31612345678", "NL", Num("+31 612345678", Mobile)),
        ("+31 6 12 34 56 78", "US", Num("+31 612345678", Mobile)),
        ("020-1234567", "NL", Num("+31 201234567", FixedLine)),
        ("010 123 4567", "NL", Num("+31 101234567", FixedLine)),
        ("0800-1234", "NL", Num("+31 8001234", Other)),
        ("06-1234", "NL", rej(PhoneRejection::Invalid)),
        ("06-123456789012", "NL", rej(PhoneRejection::TooLong)),
        // United States / Canada
        (
            "+1 (206) 555-0100 ext. 12",
            "US",
            Num("+1 2065550100x12", FixedLineOrMobile),
        ),
        (
            "+1 (206) 555-0100 x12",
            "NL",
            Num("+1 2065550100x12", FixedLineOrMobile),
        ),
        (
            "(201) 555-0123",
            "US",
            Num("+1 2015550123", FixedLineOrMobile),
        ),
        (
            "201.555.0123",
            "US",
            Num("+1 2015550123", FixedLineOrMobile),
        ),
        (
            "1-201-555-0123",
            "US",
            Num("+1 2015550123", FixedLineOrMobile),
        ),
        (
            "+1 613 555 0199",
            "US",
            Num("+1 6135550199", FixedLineOrMobile),
        ),
        ("011 31 6 12345678", "US", Num("+31 612345678", Mobile)),
        ("+1 800 555 0199", "US", Num("+1 8005550199", Other)),
        ("555-0100", "US", rej(PhoneRejection::Invalid)),
        // United Kingdom
        ("07400 123456", "GB", Num("+44 7400123456", Mobile)),
        // Ofcom reserves 07700 900xxx for drama: a placeholder that looks real.
        ("07700 900123", "GB", rej(PhoneRejection::Invalid)),
        ("+44 7400 123456", "NL", Num("+44 7400123456", Mobile)),
        ("+44 (0)7400 123456", "GB", Num("+44 7400123456", Mobile)),
        ("020 7946 0018", "GB", Num("+44 2079460018", FixedLine)),
        ("0800 123 4567", "GB", Num("+44 8001234567", Other)),
        // Germany
        ("0151 23456789", "DE", Num("+49 15123456789", Mobile)),
        ("+49 (0)151 2345 6789", "NL", Num("+49 15123456789", Mobile)),
        ("030 1234567", "DE", Num("+49 301234567", FixedLine)),
        ("0171/1234567", "DE", Num("+49 1711234567", Mobile)),
        // France
        ("06 12 34 56 78", "FR", Num("+33 612345678", Mobile)),
        ("+33 6 12 34 56 78", "NL", Num("+33 612345678", Mobile)),
        ("01 23 45 67 89", "FR", Num("+33 123456789", FixedLine)),
        ("07.81.23.45.67", "FR", Num("+33 781234567", Mobile)),
        // Belgium
        ("0470 12 34 56", "BE", Num("+32 470123456", Mobile)),
        ("+32 470 12 34 56", "NL", Num("+32 470123456", Mobile)),
        ("02 512 34 56", "BE", Num("+32 25123456", FixedLine)),
        // Spain
        ("612 34 56 78", "ES", Num("+34 612345678", Mobile)),
        ("+34 612 345 678", "NL", Num("+34 612345678", Mobile)),
        ("912 345 678", "ES", Num("+34 912345678", FixedLine)),
        // Italy: the leading zero of fixed lines is part of the number
        ("312 345 6789", "IT", Num("+39 3123456789", Mobile)),
        ("+39 312 345 6789", "NL", Num("+39 3123456789", Mobile)),
        ("02 1234 5678", "IT", Num("+39 0212345678", FixedLine)),
        ("+39 06 1234 5678", "NL", Num("+39 0612345678", FixedLine)),
        // India
        ("98765 43210", "IN", Num("+91 9876543210", Mobile)),
        ("+91-98765-43210", "NL", Num("+91 9876543210", Mobile)),
        ("09876543210", "IN", Num("+91 9876543210", Mobile)),
        // Australia
        ("0412 345 678", "AU", Num("+61 412345678", Mobile)),
        ("+61 412 345 678", "NL", Num("+61 412345678", Mobile)),
        ("(02) 9876 5432", "AU", Num("+61 298765432", FixedLine)),
        // Japan
        ("090-1234-5678", "JP", Num("+81 9012345678", Mobile)),
        ("+81 90 1234 5678", "NL", Num("+81 9012345678", Mobile)),
        ("03-1234-5678", "JP", Num("+81 312345678", FixedLine)),
        // Brazil
        ("(11) 91234-5678", "BR", Num("+55 11912345678", Mobile)),
        ("+55 11 91234 5678", "NL", Num("+55 11912345678", Mobile)),
        ("(11) 3123-4567", "BR", Num("+55 1131234567", FixedLine)),
        // South Africa
        ("082 123 4567", "ZA", Num("+27 821234567", Mobile)),
        ("+27 82 123 4567", "NL", Num("+27 821234567", Mobile)),
        ("021 123 4567", "ZA", Num("+27 211234567", FixedLine)),
        // Switzerland, Sweden, Singapore, Poland
        ("078 123 45 67", "CH", Num("+41 781234567", Mobile)),
        ("070-123 45 67", "SE", Num("+46 701234567", Mobile)),
        ("8123 4567", "SG", Num("+65 81234567", Mobile)),
        ("512 345 678", "PL", Num("+48 512345678", Mobile)),
        // Digits and separators outside ASCII (pasted from phones and office suites): the
        // patterns are compiled by regex-lite, whose classes are spelled out by the crate.
        (
            "+３１ ６ １２３４ ５６７８",
            "NL",
            Num("+31 612345678", Mobile),
        ),
        ("+٣١٦١٢٣٤٥٦٧٨", "NL", Num("+31 612345678", Mobile)),
        (
            "+31\u{a0}6\u{a0}12345678",
            "US",
            Num("+31 612345678", Mobile),
        ),
        ("\u{ff0b}31612345678", "US", Num("+31 612345678", Mobile)),
        (
            "+7 912 345 67 89 доб. 5",
            "NL",
            Num("+7 9123456789x5", Mobile),
        ),
        (
            "+1 206 555 0100 extensión 12",
            "NL",
            Num("+1 2065550100x12", FixedLineOrMobile),
        ),
        // Junk and stand-ins
        ("", "NL", rej(PhoneRejection::Empty)),
        ("   ", "NL", rej(PhoneRejection::Empty)),
        ("n/a", "NL", rej(PhoneRejection::Placeholder("n/a".into()))),
        ("N/A", "NL", rej(PhoneRejection::Placeholder("n/a".into()))),
        (
            "none",
            "NL",
            rej(PhoneRejection::Placeholder("none".into())),
        ),
        ("-", "NL", rej(PhoneRejection::Placeholder("-".into()))),
        (
            "Unknown",
            "NL",
            rej(PhoneRejection::Placeholder("unknown".into())),
        ),
        ("call reception", "NL", rej(PhoneRejection::NotANumber)),
        ("see manager", "GB", rej(PhoneRejection::NotANumber)),
        (
            "+999 1234 5678",
            "NL",
            rej(PhoneRejection::InvalidCountryCode),
        ),
        ("12", "NL", rej(PhoneRejection::TooShort)),
        // Keypad letters make this a "valid" Japanese 00-number whose `+81 00…` form does not
        // read back as the same number (fuzz finding): refused, never registered.
        (
            "000 ~e. -76t.67  5ext.760  7",
            "JP",
            rej(PhoneRejection::Invalid),
        ),
    ]
}

#[test]
fn sixty_plus_realistic_values_from_many_countries_normalise_as_libphonenumber_says() {
    let cases = table();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let countries: std::collections::BTreeSet<_> = cases.iter().map(|(_, r, _)| *r).collect();
    assert!(countries.len() >= 10, "{countries:?}");
    let mut failures = Vec::new();
    for (raw, r, want) in &cases {
        let got = normalize(raw, region(r));
        let ok = match (want, &got) {
            (Want::Ok(graph, kind), Ok(n)) => n.graph == *graph && n.kind == *kind,
            (Want::Err(e), Err(g)) => e == g,
            _ => false,
        };
        if !ok {
            let want = match want {
                Want::Ok(g, k) => format!("Ok({g}, {k:?})"),
                Want::Err(e) => format!("Err({e:?})"),
            };
            let got = match &got {
                Ok(n) => format!("Ok({}, {:?})", n.graph, n.kind),
                Err(e) => format!("Err({e:?})"),
            };
            failures.push(format!("{raw:?} in {r}: want {want}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn national_number_without_default_region_is_rejected_as_missing_country_code() {
    assert_eq!(
        normalize("06-12345678", None),
        Err(PhoneRejection::NoCountryCode)
    );
    assert_eq!(
        normalize("+31 6 12345678", None).map(|n| n.graph),
        Ok("+31 612345678".to_owned())
    );
}

#[test]
fn extension_makes_a_number_unfit_for_sms() {
    let n = normalize("+1 (206) 555-0100 ext. 12", region("US")).unwrap();
    assert_eq!(n.extension.as_deref(), Some("12"));
    assert!(!n.is_sms_capable());
    let n = normalize("(206) 555-0100", region("US")).unwrap();
    assert!(
        n.is_sms_capable(),
        "NANP fixed-line-or-mobile counts as SMS-capable"
    );
}

#[test]
fn fixed_line_is_not_sms_capable_but_is_voice_capable() {
    let n = normalize("020-1234567", region("NL")).unwrap();
    assert!(!n.is_sms_capable());
    assert!(n.kind.is_voice_capable());
    assert_eq!(n.region.as_deref(), Some("NL"));
}

#[test]
fn unknown_or_non_geographic_region_codes_are_refused() {
    for bad in ["ZZ", "001", "N", "NLD", "", "1A"] {
        assert!(bad.parse::<RegionCode>().is_err(), "{bad}");
    }
    assert_eq!("nl".parse::<RegionCode>().unwrap().as_str(), "NL");
}

#[test]
fn mask_keeps_country_code_first_digit_and_last_two() {
    assert_eq!(mask("+31 612345678"), "+31 6******78");
    assert_eq!(mask("+1 2065550100x12"), "+1 2*******00x**");
    assert_eq!(mask("+39 0212345678"), "+39 0*******78");
    assert_eq!(mask("+65 81234567"), "+65 8*****67");
    assert_eq!(mask("+1 123"), "+1 *23");
}

#[test]
fn mask_of_free_text_hides_every_digit_but_the_last_two() {
    assert_eq!(mask("06-12345678"), "**-******78");
    assert_eq!(mask("n/a"), "n/a");
    assert!(!mask("+31 (0)6 1234 5678").contains("1234"));
}

#[test]
fn last_two_ignores_the_extension() {
    assert_eq!(last_two("+31 612345678"), "78");
    assert_eq!(last_two("+1 2065550100x12"), "00");
    assert_eq!(last_two("7"), "7");
}

#[test]
fn fingerprint_is_stable_per_tenant_and_differs_across_tenants() {
    let a = fingerprint("Tenant-A", "+31 612345678");
    assert_eq!(a, fingerprint("tenant-a", " +31 612345678 "));
    assert_ne!(a, fingerprint("tenant-b", "+31 612345678"));
    assert_ne!(a, fingerprint("tenant-a", "+31 612345679"));
    assert_eq!(a.len(), 64);
    assert!(!a.contains("612345678"));
}

#[test]
fn numbers_users_typed_with_a_trunk_zero_compare_equal_to_ours() {
    assert!(same_number("+31 0612345678", "+31 612345678"));
    assert!(same_number("+31612345678", "+31 612345678"));
    assert!(!same_number("+31 612345679", "+31 612345678"));
    assert!(same_number("garbage", " garbage "));
}

#[test]
fn rejections_never_echo_digits() {
    for raw in ["06-1234", "+999 1234 5678", "555-0100", "12"] {
        let e = normalize(raw, region("NL")).unwrap_err();
        assert!(!e.to_string().chars().any(|c| c.is_ascii_digit()), "{e}");
    }
}

#[test]
fn debug_output_of_numbers_is_masked() {
    let n = normalize("06-12345678", region("NL")).unwrap();
    assert!(!format!("{n:?}").contains("12345678"), "{n:?}");
    let g = n.to_graph_number();
    assert_eq!(format!("{g:?}"), "GraphNumber(+31 6******78)");
    assert_eq!(g.to_string(), "+31 6******78");
    assert_eq!(g.expose(), "+31 612345678");
}

#[test]
fn warm_up_leaves_parsing_unchanged() {
    let nl: RegionCode = "NL".parse().expect("region");
    let before = normalize("06-12345678", Some(nl)).map(|n| n.graph);
    for region in ["NL", "US", "GB", "DE", "IN", "JP", "BR", "AU", "ZA", "AQ"] {
        warm_up(region.parse().ok());
    }
    warm_up(None);
    assert_eq!(normalize("06-12345678", Some(nl)).map(|n| n.graph), before);
    assert_eq!(before.as_deref(), Ok("+31 612345678"));
}

#[test]
fn supported_regions_are_the_metadatas() {
    let mut from_metadata: Vec<String> = PHONE_NUMBER_UTIL
        .get_supported_regions()
        .map(|r| r.as_region_str().as_str().to_owned())
        .collect();
    from_metadata.sort();
    assert_eq!(SUPPORTED_REGIONS, from_metadata);
    for code in SUPPORTED_REGIONS {
        let region: RegionCode = code.parse().expect("supported");
        assert!(
            PHONE_NUMBER_UTIL
                .get_country_code_for_region(region.0)
                .is_some()
        );
    }
    for bad in ["XX", "ZZ", "001", "", "N", "NLD"] {
        assert!(bad.parse::<RegionCode>().is_err(), "{bad}");
    }
}
