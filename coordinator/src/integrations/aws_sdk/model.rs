//! AWS's service models (botocore's `service-2.json`): the operations of a
//! service, its protocol, and the shapes of every input, output and error.
//!
//! The models of the services most used in workflows ship in the binary,
//! gzip-compressed; each is decompressed and parsed the first time a task
//! calls its service, then kept. A folder of further models (botocore's
//! `data/` layout, or `<service>.json[.gz]` files) can be added in the config.

use indexmap::IndexMap;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A service model.
#[derive(Debug, Deserialize)]
pub struct Model {
    pub metadata: Metadata,
    pub operations: HashMap<String, Operation>,
    pub shapes: HashMap<String, Shape>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub protocol: String,
    #[serde(default)]
    pub protocols: Vec<String>,
    pub api_version: String,
    pub endpoint_prefix: String,
    #[serde(default)]
    pub signing_name: Option<String>,
    pub service_id: String,
    #[serde(default)]
    pub json_version: Option<String>,
    #[serde(default)]
    pub target_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub name: String,
    pub http: Http,
    #[serde(default)]
    pub input: Option<ShapeRef>,
    #[serde(default)]
    pub output: Option<ShapeRef>,
    /// The request needs a checksum of its body (S3's `DeleteObjects`...).
    #[serde(default)]
    pub http_checksum_required: bool,
    #[serde(default)]
    pub http_checksum: Option<HttpChecksum>,
    /// A host name prefix on AWS (`sync-` for `StartSyncExecution`).
    #[serde(default)]
    pub endpoint: Option<EndpointTrait>,
}

impl Operation {
    /// Whether the request must carry a checksum of its body.
    pub fn needs_checksum(&self) -> bool {
        self.http_checksum_required
            || self
                .http_checksum
                .as_ref()
                .is_some_and(|c| c.request_checksum_required)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpChecksum {
    #[serde(default)]
    pub request_checksum_required: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointTrait {
    #[serde(default)]
    pub host_prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Http {
    #[serde(default = "post")]
    pub method: String,
    #[serde(default = "root")]
    pub request_uri: String,
}

fn post() -> String {
    "POST".into()
}

fn root() -> String {
    "/".into()
}

/// A reference to a shape (an operation's input/output, a member, a list's item...).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShapeRef {
    pub shape: String,
    /// A member's name in PascalCase, as tasks give and get it (filled in
    /// once when the model is read).
    #[serde(skip)]
    pub pascal: String,
    /// `uri`, `querystring`, `header`, `headers`, `statusCode`.
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub location_name: Option<String>,
    /// The EC2 protocol's name for a member.
    #[serde(default)]
    pub query_name: Option<String>,
    #[serde(default)]
    pub flattened: bool,
    #[serde(default)]
    pub xml_attribute: bool,
    #[serde(default)]
    pub xml_namespace: Option<XmlNamespace>,
    #[serde(default)]
    pub result_wrapper: Option<String>,
    #[serde(default)]
    pub timestamp_format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum XmlNamespace {
    Uri(String),
    Full {
        #[serde(default)]
        prefix: Option<String>,
        uri: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub members: IndexMap<String, ShapeRef>,
    #[serde(default)]
    pub member: Option<Box<ShapeRef>>,
    #[serde(default)]
    pub key: Option<Box<ShapeRef>>,
    #[serde(default)]
    pub value: Option<Box<ShapeRef>>,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub flattened: bool,
    #[serde(default)]
    pub location_name: Option<String>,
    #[serde(default)]
    pub exception: bool,
    #[serde(default)]
    pub error: Option<ErrorInfo>,
    #[serde(default)]
    pub timestamp_format: Option<String>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default, rename = "enum")]
    pub values: Option<Vec<String>>,
    #[serde(default)]
    pub document: bool,
}

#[derive(Debug, Deserialize)]
pub struct ErrorInfo {
    #[serde(default)]
    pub code: Option<String>,
}

/// The wire protocols the caller speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Json,
    RestJson,
    RestXml,
    Query,
    Ec2,
}

impl Model {
    /// The shape named `name` (a model that names a missing shape is broken).
    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.get(name)
    }

    /// The protocol to speak: the first of the model's protocols this caller
    /// knows (newer models list CBOR first and JSON after it).
    pub fn protocol(&self) -> Option<Protocol> {
        let all = std::iter::once(&self.metadata.protocol).chain(&self.metadata.protocols);
        all.filter_map(|p| match p.as_str() {
            "json" => Some(Protocol::Json),
            "rest-json" => Some(Protocol::RestJson),
            "rest-xml" => Some(Protocol::RestXml),
            "query" => Some(Protocol::Query),
            "ec2" => Some(Protocol::Ec2),
            _ => None,
        })
        .next()
    }

    /// The operation an `aws-sdk` action names (`getObject` → `GetObject`).
    pub fn operation(&self, action: &str) -> Option<&Operation> {
        let pascal = super::pascal(action);
        self.operations.get(&pascal).or_else(|| {
            self.operations
                .values()
                .find(|o| o.name.eq_ignore_ascii_case(action))
        })
    }

    /// The SigV4 signing name.
    pub fn signing_name(&self) -> &str {
        self.metadata
            .signing_name
            .as_deref()
            .unwrap_or(&self.metadata.endpoint_prefix)
    }

    /// The error shape an error code names, if the model has it.
    pub fn error_shape(&self, code: &str) -> Option<&str> {
        if self.shapes.get(code).is_some_and(|s| s.exception) {
            return self.shapes.get_key_value(code).map(|(k, _)| k.as_str());
        }
        self.shapes
            .iter()
            .find(|(_, s)| {
                s.exception && s.error.as_ref().and_then(|e| e.code.as_deref()) == Some(code)
            })
            .map(|(k, _)| k.as_str())
    }
}

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        /// The models shipped in the binary: (botocore service name, gzip'd JSON).
        pub const EMBEDDED: &[(&str, &[u8])] = &[
            $(($name, include_bytes!(concat!("models/", $name, ".json.gz")))),*
        ];
    };
}

embedded!(
    "athena",
    "batch",
    "bedrock-runtime",
    "comprehend",
    "dynamodb",
    "ec2",
    "ecs",
    "events",
    "glue",
    "kms",
    "lambda",
    "polly",
    "rekognition",
    "s3",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
    "stepfunctions",
    "sts",
    "textract",
    "transcribe",
    "translate",
);

/// `aws-sdk` service names that differ from botocore's (AWS names them after
/// its Java SDK's clients).
const ALIASES: &[(&str, &str)] = &[
    ("sfn", "stepfunctions"),
    ("eventbridge", "events"),
    ("cloudwatchlogs", "logs"),
    ("elasticloadbalancingv2", "elbv2"),
    ("elasticloadbalancing", "elb"),
    ("costexplorer", "ce"),
    ("databasemigration", "dms"),
    ("cognitoidentityprovider", "cognito-idp"),
    ("lexruntime", "lex-runtime"),
    ("lexmodelbuilding", "lex-models"),
    ("marketplacemetering", "meteringmarketplace"),
    ("mediastoredata", "mediastore-data"),
    ("sagemakerruntime", "sagemaker-runtime"),
];

/// Why a model could not be had.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error(
        "no service model for '{0}': this build ships athena, batch, bedrockruntime, comprehend, dynamodb, ec2, ecs, eventbridge, glue, kms, lambda, polly, rekognition, s3, secretsmanager, sfn, sns, sqs, ssm, sts, textract, transcribe and translate; add others with [integrations] models_dir (README: AWS SDK integrations)"
    )]
    Unknown(String),
    #[error("the service model {path} could not be read: {why}")]
    Broken { path: String, why: String },
}

/// The models: the embedded ones and those of a folder, parsed once each.
#[derive(Debug, Default)]
pub struct Models {
    folder: Option<PathBuf>,
    cache: Mutex<HashMap<String, Arc<Model>>>,
}

/// The embedded models, shared by whoever needs no folder (TestState).
pub fn shared() -> &'static Models {
    static SHARED: std::sync::OnceLock<Models> = std::sync::OnceLock::new();
    SHARED.get_or_init(Models::default)
}

impl Models {
    pub fn new(folder: Option<PathBuf>) -> Self {
        Self {
            folder,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The model of an `aws-sdk` service name (`s3`, `sfn`, `bedrockruntime`...).
    pub fn get(&self, service: &str) -> Result<Arc<Model>, ModelError> {
        if let Some(m) = self.cache.lock().ok().and_then(|c| c.get(service).cloned()) {
            return Ok(m);
        }
        let model = Arc::new(self.load(service)?);
        if let Ok(mut c) = self.cache.lock() {
            c.insert(service.to_owned(), model.clone());
        }
        Ok(model)
    }

    fn load(&self, service: &str) -> Result<Model, ModelError> {
        let wanted = ALIASES
            .iter()
            .find(|(a, _)| *a == service)
            .map_or(service, |(_, b)| *b);
        let same = |name: &str| name == wanted || name.replace('-', "") == wanted;
        if let Some(dir) = &self.folder
            && let Some(path) = find_in_folder(dir, same)
        {
            let bytes = std::fs::read(&path).map_err(|e| ModelError::Broken {
                path: path.display().to_string(),
                why: e.to_string(),
            })?;
            let gz = path.extension().is_some_and(|e| e == "gz");
            return parse(&bytes, gz).map_err(|why| ModelError::Broken {
                path: path.display().to_string(),
                why,
            });
        }
        let (name, bytes) = EMBEDDED
            .iter()
            .find(|(n, _)| same(n))
            .ok_or_else(|| ModelError::Unknown(service.to_owned()))?;
        parse(bytes, true).map_err(|why| ModelError::Broken {
            path: format!("(embedded) {name}"),
            why,
        })
    }
}

/// `<dir>/<name>.json[.gz]`, or botocore's `<dir>/<name>/<newest version>/service-2.json[.gz]`.
fn find_in_folder(dir: &Path, same: impl Fn(&str) -> bool) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    for e in entries.flatten() {
        let file = e.file_name();
        let file = file.to_string_lossy();
        let path = e.path();
        if path.is_dir() && same(&file) {
            let mut versions: Vec<PathBuf> = std::fs::read_dir(&path)
                .ok()?
                .flatten()
                .map(|v| v.path())
                .filter(|v| v.is_dir())
                .collect();
            versions.sort();
            for v in versions.iter().rev() {
                for f in ["service-2.json.gz", "service-2.json"] {
                    if v.join(f).is_file() {
                        return Some(v.join(f));
                    }
                }
            }
        } else if let Some(stem) = file
            .strip_suffix(".json.gz")
            .or_else(|| file.strip_suffix(".json"))
            && same(stem)
        {
            return Some(path);
        }
    }
    None
}

/// Parses a model (gzip'd or not).
pub fn parse(bytes: &[u8], gz: bool) -> Result<Model, String> {
    let mut model: Model = if gz {
        let mut text = Vec::with_capacity(bytes.len() * 8);
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut text)
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&text).map_err(|e| e.to_string())?
    } else {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())?
    };
    for shape in model.shapes.values_mut() {
        for (name, r) in shape.members.iter_mut() {
            r.pascal = super::pascal(name);
        }
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_model_parses_and_has_a_known_protocol() {
        for (name, bytes) in EMBEDDED {
            let m = parse(bytes, true).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(m.protocol().is_some(), "{name}: {}", m.metadata.protocol);
            assert!(!m.operations.is_empty(), "{name}");
        }
    }

    #[test]
    fn names_map_to_models() {
        let models = Models::default();
        assert_eq!(
            models.get("sfn").map(|m| m.metadata.service_id.clone()),
            Ok("SFN".to_owned())
        );
        assert_eq!(
            models
                .get("bedrockruntime")
                .map(|m| m.metadata.service_id.clone()),
            Ok("Bedrock Runtime".to_owned())
        );
        assert!(models.get("eventbridge").is_ok());
        assert!(matches!(models.get("nosuch"), Err(ModelError::Unknown(_))));
        let s3 = models.get("s3").unwrap();
        assert_eq!(
            s3.operation("listObjectsV2").map(|o| o.name.as_str()),
            Some("ListObjectsV2")
        );
        assert_eq!(s3.error_shape("NoSuchKey"), Some("NoSuchKey"));
        let sns = models.get("sns").unwrap();
        assert_eq!(sns.error_shape("NotFound"), Some("NotFoundException"));
        // Textract lists CBOR first; JSON is spoken.
        assert_eq!(
            models.get("textract").unwrap().protocol(),
            Some(Protocol::Json)
        );
    }

    #[test]
    fn a_folder_adds_models() {
        let dir = tempfile::tempdir().unwrap();
        let v = dir.path().join("mysvc").join("2020-01-01");
        std::fs::create_dir_all(&v).unwrap();
        std::fs::write(
            v.join("service-2.json"),
            r#"{"metadata":{"protocol":"json","apiVersion":"2020-01-01","endpointPrefix":"mysvc","serviceId":"My Svc","jsonVersion":"1.1","targetPrefix":"MySvc"},"operations":{"Ping":{"name":"Ping","http":{"method":"POST","requestUri":"/"}}},"shapes":{}}"#,
        )
        .unwrap();
        let models = Models::new(Some(dir.path().to_owned()));
        assert_eq!(
            models.get("mysvc").unwrap().metadata.service_id,
            "My Svc".to_owned()
        );
        assert!(models.get("s3").is_ok());
    }
}
