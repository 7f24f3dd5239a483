//! What Roboflow's eval record says about an eval, apart from its metrics: the one part of
//! the model that is Roboflow's, kept here so that the rest of the model stays
//! vendor-neutral.

use crate::http::path_segment;

/// The key under which `evalgate fetch` stores [`EvalMeta`] in a saved eval.
pub const META_KEY: &str = "evalgate";

/// What Roboflow says about an eval besides its metrics. Every field is untrusted text.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvalMeta {
    /// The eval's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_id: Option<String>,
    /// The workspace slug.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// The project slug (`null` when the project was deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The dataset version, e.g. `"4"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// When the eval was created (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

impl EvalMeta {
    /// The eval's page in the Roboflow app, when workspace, project and version are known.
    pub fn app_url(&self) -> Option<String> {
        let (ws, project, version) = (
            self.workspace.as_deref()?,
            self.project.as_deref()?,
            self.version_id.as_deref()?,
        );
        Some(format!(
            "https://app.roboflow.com/{}/{}/evaluation/{}",
            path_segment(ws),
            path_segment(project),
            path_segment(version)
        ))
    }
}
