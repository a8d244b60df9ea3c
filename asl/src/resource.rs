//! What a Task state's `Resource` names: an activity, a Lambda function, an
//! optimized service integration (`arn:aws:states:::sns:publish`), an AWS SDK
//! integration (`arn:aws:states:::aws-sdk:s3:getObject`) or the HTTP Task, and
//! the integration pattern (request-response, `.sync`, `.sync:2`,
//! `.waitForTaskToken`).
//!
//! The parse is pure and shared: the compiler refuses what AWS refuses with
//! it, and the coordinator picks how to run a task from it.

/// How a Task waits on a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// The call's answer is the result.
    RequestResponse,
    /// `.sync`: wait for the job to finish (output as AWS's API gives it).
    Sync,
    /// `.sync:2`: wait for the job; output as JSON (Step Functions only).
    Sync2,
    /// `.waitForTaskToken`: make the call, then wait for `SendTask*` with the token.
    WaitForTaskToken,
}

impl Pattern {
    /// The suffix in a resource ARN.
    pub fn suffix(self) -> &'static str {
        match self {
            Pattern::RequestResponse => "",
            Pattern::Sync => ".sync",
            Pattern::Sync2 => ".sync:2",
            Pattern::WaitForTaskToken => ".waitForTaskToken",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Pattern::RequestResponse => R,
            Pattern::Sync => S,
            Pattern::Sync2 => S2,
            Pattern::WaitForTaskToken => T,
        }
    }
}

/// A parsed Task `Resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `arn:aws:states:<region>:<account>:activity:<name>`.
    Activity,
    /// A Lambda function ARN (`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`),
    /// run as a `LambdaFunction...` task.
    LambdaFunction {
        /// The function's region (from the ARN).
        region: String,
    },
    /// An optimized integration, `arn:aws:states:<region?>::<service>:<action>[pattern]`.
    Service {
        /// As written in the ARN: `lambda`, `sns`, `sqs`, `dynamodb`, `events`, `ecs`, `batch`, `states`, `http`...
        service: String,
        /// As written: `invoke`, `publish`, `sendMessage`...
        action: String,
        pattern: Pattern,
        /// A region named in the ARN (cross-region call), if any.
        region: Option<String>,
    },
    /// `arn:aws:states:<region?>::aws-sdk:<service>:<action>[pattern]`.
    AwsSdk {
        /// The SDK service name (`s3`, `dynamodb`, `sfn`, `secretsmanager`...).
        service: String,
        /// The API action in camelCase (`getObject`).
        action: String,
        pattern: Pattern,
        region: Option<String>,
    },
}

impl Resource {
    /// The `resourceType` AWS writes in `TaskScheduled` and friends
    /// (`lambda`, `sns`, `aws-sdk:s3`...).
    pub fn resource_type(&self) -> String {
        match self {
            Resource::Activity => "activity".to_owned(),
            Resource::LambdaFunction { .. } => "lambda".to_owned(),
            Resource::Service { service, .. } => service.clone(),
            Resource::AwsSdk { service, .. } => format!("aws-sdk:{service}"),
        }
    }

    /// The `resource` AWS writes in `TaskScheduled` (`invoke`, `publish.waitForTaskToken`...).
    pub fn resource_name(&self) -> String {
        match self {
            Resource::Activity | Resource::LambdaFunction { .. } => String::new(),
            Resource::Service {
                action, pattern, ..
            }
            | Resource::AwsSdk {
                action, pattern, ..
            } => format!("{action}{}", pattern.suffix()),
        }
    }

    /// The integration pattern (request-response for activities and functions).
    pub fn pattern(&self) -> Pattern {
        match self {
            Resource::Service { pattern, .. } | Resource::AwsSdk { pattern, .. } => *pattern,
            _ => Pattern::RequestResponse,
        }
    }
}

/// Why a resource is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceError {
    /// Not an ARN AWS knows as a Task resource (AWS's "is not recognized" message).
    NotRecognized,
}

const R: u8 = 1;
const S: u8 = 2;
const S2: u8 = 4;
const T: u8 = 8;

/// The optimized integrations AWS offers, with the patterns each supports.
/// (`aws-sdk:*` integrations support request-response and `.waitForTaskToken`.)
const OPTIMIZED: &[(&str, &[&str], u8)] = &[
    ("lambda", &["invoke"], R | T),
    ("sns", &["publish"], R | T),
    ("sqs", &["sendMessage"], R | T),
    (
        "dynamodb",
        &["getItem", "putItem", "updateItem", "deleteItem"],
        R,
    ),
    ("events", &["putEvents"], R | T),
    ("ecs", &["runTask"], R | S | T),
    ("batch", &["submitJob"], R | S | T),
    ("states", &["startExecution"], R | S | S2 | T),
    ("http", &["invoke"], R),
    ("glue", &["startJobRun"], R | S | T),
    (
        "athena",
        &[
            "startQueryExecution",
            "stopQueryExecution",
            "getQueryExecution",
            "getQueryResults",
        ],
        R | S | T,
    ),
    (
        "codebuild",
        &[
            "startBuild",
            "stopBuild",
            "batchDeleteBuilds",
            "batchGetReports",
            "startBuildBatch",
        ],
        R | S | T,
    ),
    ("apigateway", &["invoke"], R | T),
    (
        "bedrock",
        &["invokeModel", "createModelCustomizationJob"],
        R | S | T,
    ),
    ("databrew", &["startJobRun"], R | S | T),
    ("mediaconvert", &["createJob"], R | S | T),
    (
        "eks",
        &[
            "runJob",
            "call",
            "createCluster",
            "deleteCluster",
            "createNodegroup",
            "deleteNodegroup",
            "createFargateProfile",
            "deleteFargateProfile",
        ],
        R | S | T,
    ),
    (
        "elasticmapreduce",
        &[
            "createCluster",
            "terminateCluster",
            "addStep",
            "cancelStep",
            "setClusterTerminationProtection",
            "modifyInstanceFleetByName",
            "modifyInstanceGroupByName",
        ],
        R | S | T,
    ),
    (
        "emr-containers",
        &[
            "startJobRun",
            "createVirtualCluster",
            "deleteVirtualCluster",
        ],
        R | S | T,
    ),
    (
        "emr-serverless",
        &[
            "createApplication",
            "startApplication",
            "stopApplication",
            "deleteApplication",
            "startJobRun",
            "cancelJobRun",
        ],
        R | S | T,
    ),
    (
        "sagemaker",
        &[
            "createTrainingJob",
            "createTransformJob",
            "createProcessingJob",
            "createHyperParameterTuningJob",
            "createLabelingJob",
            "createModel",
            "createEndpoint",
            "createEndpointConfig",
            "updateEndpoint",
        ],
        R | S | T,
    ),
];

/// Parses a Task `Resource`.
///
/// ```
/// use stepwise_asl::resource::{parse, Pattern, Resource};
/// let r = parse("arn:aws:states:::sqs:sendMessage.waitForTaskToken").unwrap();
/// assert_eq!(r.pattern(), Pattern::WaitForTaskToken);
/// assert_eq!(r.resource_type(), "sqs");
/// assert!(parse("arn:aws:states:::dynamodb:query").is_err());
/// ```
pub fn parse(resource: &str) -> Result<Resource, ResourceError> {
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" || !parts[1].starts_with("aws") {
        return Err(ResourceError::NotRecognized);
    }
    let (service, region, account, tail) = (parts[2], parts[3], parts[4], parts[5]);
    match service {
        "lambda" => {
            // function:<name>[:<qualifier>]
            let mut f = tail.splitn(3, ':');
            match (f.next(), f.next()) {
                (Some("function"), Some(name)) if !name.is_empty() && !region.is_empty() => {
                    Ok(Resource::LambdaFunction {
                        region: region.to_owned(),
                    })
                }
                _ => Err(ResourceError::NotRecognized),
            }
        }
        "states" if tail.starts_with("activity:") => {
            if tail.len() > "activity:".len() {
                Ok(Resource::Activity)
            } else {
                Err(ResourceError::NotRecognized)
            }
        }
        "states" if account.is_empty() => {
            let region = (!region.is_empty()).then(|| region.to_owned());
            let (base, pattern) = split_pattern(tail);
            if let Some(sdk) = base.strip_prefix("aws-sdk:") {
                let (svc, action) = sdk.split_once(':').ok_or(ResourceError::NotRecognized)?;
                let valid_action = action
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_lowercase())
                    && action.chars().all(|c| c.is_ascii_alphanumeric());
                let valid_service = !svc.is_empty()
                    && svc.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
                    });
                if !valid_action || !valid_service {
                    return Err(ResourceError::NotRecognized);
                }
                if !matches!(
                    pattern,
                    Pattern::RequestResponse | Pattern::WaitForTaskToken
                ) {
                    return Err(ResourceError::NotRecognized);
                }
                return Ok(Resource::AwsSdk {
                    service: svc.to_owned(),
                    action: action.to_owned(),
                    pattern,
                    region,
                });
            }
            let (svc, action) = base.split_once(':').ok_or(ResourceError::NotRecognized)?;
            let known = OPTIMIZED
                .iter()
                .find(|(s, actions, _)| *s == svc && actions.contains(&action));
            match known {
                Some((_, _, patterns)) if patterns & pattern.bit() != 0 => {
                    // `.sync:2` exists only for Step Functions.
                    if pattern == Pattern::Sync2 && svc != "states" {
                        return Err(ResourceError::NotRecognized);
                    }
                    Ok(Resource::Service {
                        service: svc.to_owned(),
                        action: action.to_owned(),
                        pattern,
                        region,
                    })
                }
                _ => Err(ResourceError::NotRecognized),
            }
        }
        _ => Err(ResourceError::NotRecognized),
    }
}

fn split_pattern(tail: &str) -> (&str, Pattern) {
    if let Some(b) = tail.strip_suffix(".waitForTaskToken") {
        (b, Pattern::WaitForTaskToken)
    } else if let Some(b) = tail.strip_suffix(".sync:2") {
        (b, Pattern::Sync2)
    } else if let Some(b) = tail.strip_suffix(".sync") {
        (b, Pattern::Sync)
    } else {
        (tail, Pattern::RequestResponse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimized_integrations_and_their_patterns() {
        for ok in [
            "arn:aws:states:::lambda:invoke",
            "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "arn:aws:states:::sns:publish",
            "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "arn:aws:states:::dynamodb:updateItem",
            "arn:aws:states:::events:putEvents.waitForTaskToken",
            "arn:aws:states:::ecs:runTask.sync",
            "arn:aws:states:::batch:submitJob.sync",
            "arn:aws:states:::states:startExecution.sync:2",
            "arn:aws:states:::http:invoke",
            "arn:aws:states:us-west-2::lambda:invoke",
            "arn:aws-us-gov:states:::sns:publish",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "arn:aws:states:::dynamodb:query",
            "arn:aws:states:::lambda:invoke.sync",
            "arn:aws:states:::dynamodb:putItem.waitForTaskToken",
            "arn:aws:states:::sns:publish.sync:2",
            "arn:aws:states:::http:invoke.waitForTaskToken",
            "arn:aws:states:::nosuch:thing",
            "arn:aws:states:::lambda",
        ] {
            assert_eq!(parse(bad), Err(ResourceError::NotRecognized), "{bad}");
        }
    }

    #[test]
    fn sdk_integrations_lambda_functions_and_activities() {
        let r = parse("arn:aws:states:::aws-sdk:s3:getObject").unwrap_or(Resource::Activity);
        assert_eq!(r.resource_type(), "aws-sdk:s3");
        assert_eq!(r.resource_name(), "getObject");
        assert!(parse("arn:aws:states:::aws-sdk:sfn:startExecution.waitForTaskToken").is_ok());
        assert!(parse("arn:aws:states:::aws-sdk:s3:getObject.sync").is_err());
        assert!(parse("arn:aws:states:::aws-sdk:s3:GetObject").is_err());
        assert!(parse("arn:aws:states:::aws-sdk:s3").is_err());
        assert!(matches!(
            parse("arn:aws:lambda:us-east-1:123456789012:function:f:live"),
            Ok(Resource::LambdaFunction { .. })
        ));
        assert!(parse("arn:aws:lambda:us-east-1:123456789012:layer:f").is_err());
        assert_eq!(
            parse("arn:aws:states:us-east-1:123456789012:activity:a"),
            Ok(Resource::Activity)
        );
        assert!(parse("arn:aws:states:::activity:").is_err());
        assert!(parse("not an arn").is_err());
    }

    #[test]
    fn names_as_aws_writes_them_in_events() {
        let r =
            parse("arn:aws:states:::sns:publish.waitForTaskToken").unwrap_or(Resource::Activity);
        assert_eq!(r.resource_type(), "sns");
        assert_eq!(r.resource_name(), "publish.waitForTaskToken");
    }
}
