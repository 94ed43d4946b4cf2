//! CoreDNS without an upstream: the clusters may send traffic only to the networks the run
//! creates, so the `forward` plugin (which sends unknown names to the host's resolvers) goes.

/// The Corefile with every `forward` directive removed, single-line or block form.
pub fn without_forward(corefile: &str) -> String {
    let mut kept = Vec::new();
    let mut in_block = false;
    for line in corefile.lines() {
        let trimmed = line.trim();
        if in_block {
            in_block = trimmed != "}";
            continue;
        }
        if trimmed == "forward" || trimmed.starts_with("forward ") {
            in_block = trimmed.ends_with('{');
            continue;
        }
        kept.push(line);
    }
    let mut text = kept.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBEADM_COREFILE: &str = ".:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
";

    #[test]
    fn drops_the_forward_block_and_keeps_the_rest() {
        let out = without_forward(KUBEADM_COREFILE);
        assert!(!out.contains("forward") && !out.contains("max_concurrent"), "{out}");
        assert!(
            out.contains("kubernetes cluster.local") && out.contains("cache 30"),
            "{out}"
        );
        assert_eq!(out.matches('{').count(), out.matches('}').count(), "{out}");
    }

    #[test]
    fn drops_a_single_line_forward() {
        let out = without_forward(".:53 {\n    forward . 8.8.8.8\n    cache 30\n}\n");
        assert_eq!(out, ".:53 {\n    cache 30\n}\n");
    }
}
