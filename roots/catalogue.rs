// The catalogue of roots that build.rs may compile in. build.rs reads this file with
// `include!`, so adding a root needs no parser in every downstream build. Read
// roots/README.md before editing: every fingerprint here must be checked against the value
// Amazon Trust Services publishes, never computed from the file being added.
&[
    CatalogueEntry {
        file: "Amazon_Root_CA_1.pem",
        name: "Amazon Root CA 1",
        feature: "amazon-root-ca-1",
        sha256: "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
        removal: Some(Removal {
            date: (2030, 5, 26),
            program: "Mozilla",
            basis: Basis::Projected,
            note: "Mozilla Root Store Policy 7.4: website trust ends 15 years after key creation; key created by 2015-05-26 (the certificate's notBefore, for want of the ceremony report)",
        }),
    },
    CatalogueEntry {
        file: "Amazon_Root_CA_2.pem",
        name: "Amazon Root CA 2",
        feature: "amazon-root-ca-2",
        sha256: "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4",
        removal: Some(Removal {
            date: (2030, 5, 26),
            program: "Mozilla",
            basis: Basis::Projected,
            note: "Mozilla Root Store Policy 7.4: website trust ends 15 years after key creation; key created by 2015-05-26 (the certificate's notBefore, for want of the ceremony report)",
        }),
    },
    CatalogueEntry {
        file: "Amazon_Root_CA_3.pem",
        name: "Amazon Root CA 3",
        feature: "amazon-root-ca-3",
        sha256: "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4",
        removal: Some(Removal {
            date: (2030, 5, 26),
            program: "Mozilla",
            basis: Basis::Projected,
            note: "Mozilla Root Store Policy 7.4: website trust ends 15 years after key creation; key created by 2015-05-26 (the certificate's notBefore, for want of the ceremony report)",
        }),
    },
    CatalogueEntry {
        file: "Amazon_Root_CA_4.pem",
        name: "Amazon Root CA 4",
        feature: "amazon-root-ca-4",
        sha256: "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092",
        removal: Some(Removal {
            date: (2030, 5, 26),
            program: "Mozilla",
            basis: Basis::Projected,
            note: "Mozilla Root Store Policy 7.4: website trust ends 15 years after key creation; key created by 2015-05-26 (the certificate's notBefore, for want of the ceremony report)",
        }),
    },
    CatalogueEntry {
        file: "Starfield_Services_Root_Certificate_Authority_-_G2.pem",
        name: "Starfield Services Root Certificate Authority - G2",
        feature: "starfield-services-g2",
        sha256: "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5",
        removal: Some(Removal {
            date: (2027, 4, 15),
            program: "Mozilla",
            basis: Basis::Projected,
            note: "Mozilla Root CA Lifecycles: website trust ends for 2008-2009 key material on 2027-04-15",
        }),
    },
    CatalogueEntry {
        file: "Starfield_Class_2_CA.pem",
        name: "Starfield Class 2 Certification Authority",
        feature: "starfield-class-2",
        sha256: "1465fa205397b876faa6f0a9958e5590e40fcc7faa4fb7c2c8677521fb5fb658",
        removal: Some(Removal {
            date: (2025, 4, 15),
            program: "Mozilla",
            basis: Basis::Announced,
            note: "removed from Mozilla's root store in April 2025 (Root CA Lifecycles, bug 1957685)",
        }),
    },
]
