//! Delivery methods: how `secret/<name>` reaches an application container. Each method renders
//! its manifests from `fixtures/delivery/<method>/`; scenarios deploy them and measure.

pub mod agent_sidecar;

use crate::secret::{SecretData, SecretString};

/// Parses the `key=value` lines a delivery method renders into the app's file.
pub fn parse_rendered(text: &str) -> SecretData {
    SecretData::new(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), SecretString::from(v))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ExposeSecret;

    #[test]
    fn rendered_lines_become_fields() {
        let data = parse_rendered("password=a=b\nusername=admin\n\n");
        assert_eq!(data.keys().collect::<Vec<_>>(), ["password", "username"]);
        assert_eq!(data.get("password").unwrap().expose_secret(), "a=b");
    }
}
