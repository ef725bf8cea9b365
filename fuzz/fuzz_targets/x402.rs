//! An agent's x402 `PaymentPayload` (`_meta["x402/payment"]`), as JSON: `billing::x402::check`
//! against the offer of a call. It never panics; a payment it accepts names exactly the offer's
//! terms, and its ledger key is the lowercased network, asset, payer and nonce.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mkit::billing::x402::{check, network, MachineOffer, Resource};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(payment) = serde_json::from_slice::<Value>(data) else { return };
    let Some(net) = network("eip155:84532") else { return };
    let offer = MachineOffer {
        network: net,
        pay_to: "0x209693Bc6afc0C5328bA36FaF03C514EF312287C".into(),
        credit_price: 10_000,
        facilitator: "https://facilitator.example".into(),
        facilitator_auth: None,
        record_in_stripe: false,
    };
    let resource = Resource::tool("mcp.example.com", "search", "Searches.");
    for credits in [1, 3] {
        let requirements = offer.requirements(credits);
        let Ok(matched) = check(&payment, &requirements, &resource.url) else { continue };
        let accepted = &payment["accepted"];
        assert_eq!(accepted["amount"], requirements["amount"]);
        assert_eq!(payment["resource"]["url"], resource.url.as_str());
        for field in ["payTo", "asset"] {
            let (a, b) = (accepted[field].as_str().unwrap_or(""), requirements[field].as_str().unwrap_or("-"));
            assert!(a.eq_ignore_ascii_case(b), "{field}");
        }
        assert_eq!(matched.key, matched.key.to_ascii_lowercase());
        assert_eq!(matched.key.split(':').count(), 5, "network (two parts), asset, payer, nonce");
        assert!(matched
            .key
            .ends_with(&payment["payload"]["authorization"]["nonce"].as_str().unwrap_or("-").to_ascii_lowercase()));
    }
});
