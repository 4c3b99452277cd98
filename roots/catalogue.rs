// The catalogue of roots that build.rs may compile in. build.rs reads this file with
// `include!`, so adding a root needs no parser in every downstream build. Read
// roots/README.md before editing: every fingerprint here must be checked against the value
// Amazon Trust Services publishes, never computed from the file being added. build.rs copies
// both fingerprints into the tables; the crate's own tests (tests/anchors.rs,
// tests/codegen.rs) recompute them from the files, so an edited file or fingerprint fails CI.
&[
    CatalogueEntry {
        file: "Amazon_Root_CA_1.pem",
        name: "Amazon Root CA 1",
        feature: "amazon-root-ca-1",
        sha256: "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e",
        spki_sha256: "fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2",
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
        spki_sha256: "7f4296fc5b6a4e3b35d3c369623e364ab1af381d8fa7121533c9d6c633ea2461",
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
        spki_sha256: "36abc32656acfc645c61b71613c4bf21c787f5cabbee48348d58597803d7abc9",
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
        spki_sha256: "f7ecded5c66047d28ed6466b543c40e0743abe81d109254dcf845d4c2c7853c5",
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
        spki_sha256: "2b071c59a0a0ae76b0eadb2bad23bad4580b69c3601b630c2eaf0613afa83f92",
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
        spki_sha256: "15f14ac45c9c7da233d3479164e8137fe35ee0f38ae858183f08410ea82ac4b4",
        removal: Some(Removal {
            date: (2025, 4, 15),
            program: "Mozilla",
            basis: Basis::Announced,
            note: "removed from Mozilla's root store in April 2025 (Root CA Lifecycles, bug 1957685)",
        }),
    },
]
