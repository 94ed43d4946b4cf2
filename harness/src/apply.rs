//! Server-side apply of multi-document YAML (manifests from `fixtures/`), like `kubectl apply`.

use kube::{
    Api,
    api::{DynamicObject, Patch, PatchParams},
    core::GroupVersionKind,
    discovery::{self, Scope},
};

use crate::{Error, Result};

/// The field manager every object the harness applies is recorded under.
pub const FIELD_MANAGER: &str = "vault-k8s-harness";

/// Fills `${NAME}` placeholders; an unknown or unfilled placeholder is an error, not a blank.
pub fn render(template: &str, values: &[(&str, &str)]) -> Result<String> {
    let mut text = template.to_string();
    for (name, value) in values {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    match text.find("${") {
        Some(at) => Err(Error::State(format!(
            "manifest placeholder left unfilled: {}",
            text[at..].chars().take_while(|c| *c != '}').collect::<String>()
        ))),
        None => Ok(text),
    }
}

/// Every document of `yaml` as a JSON value (empty documents are skipped).
pub fn documents(yaml: &str) -> Result<Vec<serde_json::Value>> {
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_str_multiple(yaml).map_err(|e| Error::State(format!("invalid manifest YAML: {e}")))?;
    Ok(documents.into_iter().filter(|d| !d.is_null()).collect())
}

/// Parses every document of `yaml` into an object (empty documents are skipped).
pub fn parse(yaml: &str) -> Result<Vec<DynamicObject>> {
    documents(yaml)?
        .into_iter()
        .map(|d| serde_json::from_value(d).map_err(|e| Error::State(format!("invalid manifest object: {e}"))))
        .collect()
}

/// Applies every object in order (namespaces before what lives in them, as written).
pub async fn apply(client: &kube::Client, yaml: &str) -> Result<()> {
    for object in parse(yaml)? {
        apply_object(client, object).await?;
    }
    Ok(())
}

/// Deletes every object of `yaml` that exists (in reverse order); absent ones are fine.
pub async fn delete(client: &kube::Client, yaml: &str) -> Result<()> {
    for object in parse(yaml)?.into_iter().rev() {
        let (api, name, shown) = api_for(client, &object).await?;
        match api.delete(&name, &kube::api::DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(Error::State(format!("cannot delete {shown}: {e}"))),
        }
    }
    Ok(())
}

async fn apply_object(client: &kube::Client, object: DynamicObject) -> Result<()> {
    let (api, name, shown) = api_for(client, &object).await?;
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .map(drop)
    .map_err(|e| Error::State(format!("cannot apply {shown}: {e}")))
}

/// The API of the object's kind (found by discovery), its name, and how to name it in errors.
async fn api_for(client: &kube::Client, object: &DynamicObject) -> Result<(Api<DynamicObject>, String, String)> {
    let types = object
        .types
        .clone()
        .ok_or_else(|| Error::State("manifest object without apiVersion/kind".into()))?;
    let gvk = GroupVersionKind::try_from(&types).map_err(|e| Error::State(format!("bad apiVersion/kind: {e}")))?;
    let name = object
        .metadata
        .name
        .clone()
        .ok_or_else(|| Error::State(format!("{} without a name", gvk.kind)))?;
    let shown = format!("{} {name}", gvk.kind);
    let (resource, capabilities) = discovery::pinned_kind(client, &gvk)
        .await
        .map_err(|e| Error::State(format!("{shown}: kind unknown to the cluster: {e}")))?;
    let api: Api<DynamicObject> = match capabilities.scope {
        Scope::Namespaced => {
            let namespace = object.metadata.namespace.clone().unwrap_or_else(|| "default".into());
            Api::namespaced_with(client.clone(), &namespace, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    Ok((api, name, shown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_placeholder_or_refuses() {
        assert_eq!(
            render("a: ${X}\nb: ${Y}", &[("X", "1"), ("Y", "2")]).unwrap(),
            "a: 1\nb: 2"
        );
        let err = render("a: ${X}\nb: ${MISSING}", &[("X", "1")]).unwrap_err();
        assert_eq!(err.to_string(), "manifest placeholder left unfilled: ${MISSING");
    }

    #[test]
    fn the_fixtures_parse_into_named_objects() {
        let template = include_str!("../../fixtures/app/vault-auth.yaml");
        let objects = parse(&render(template, &[("REVIEWER", "vault-auth")]).unwrap()).unwrap();
        let kinds: Vec<_> = objects
            .iter()
            .map(|o| o.types.as_ref().unwrap().kind.as_str())
            .collect();
        assert_eq!(kinds, ["ServiceAccount", "Secret", "ClusterRoleBinding"]);
        assert!(objects.iter().all(|o| o.metadata.name.is_some()));
    }
}
