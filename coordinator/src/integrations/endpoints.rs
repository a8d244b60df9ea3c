//! Where a service's calls go: the config file's `[integrations.endpoints]`,
//! then the AWS SDKs' `AWS_ENDPOINT_URL_<SERVICE>`, then Step Functions
//! Local's `<SERVICE>_ENDPOINT`, then `AWS_ENDPOINT_URL` (or the config's
//! `endpoint_url`), and otherwise AWS itself in the call's region.

use super::IntegrationSettings;
use std::collections::BTreeMap;

/// A service the integrations call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The key in the config's `endpoints` table (`lambda`, `sns`...).
    pub key: &'static str,
    /// The SigV4 signing name.
    pub signing_name: &'static str,
    /// The suffix of `AWS_ENDPOINT_URL_<...>` (the SDKs' service id).
    pub env_id: &'static str,
    /// Step Functions Local's variable for it.
    pub sfn_local_env: &'static str,
    /// The AWS host name prefix (`<prefix>.<region>.amazonaws.com`).
    pub host: &'static str,
}

macro_rules! service {
    ($name:ident, $key:literal, $sign:literal, $env:literal, $local:literal, $host:literal) => {
        pub const $name: Service = Service {
            key: $key,
            signing_name: $sign,
            env_id: $env,
            sfn_local_env: $local,
            host: $host,
        };
    };
}

service!(
    LAMBDA,
    "lambda",
    "lambda",
    "LAMBDA",
    "LAMBDA_ENDPOINT",
    "lambda"
);
service!(SNS, "sns", "sns", "SNS", "SNS_ENDPOINT", "sns");
service!(SQS, "sqs", "sqs", "SQS", "SQS_ENDPOINT", "sqs");
service!(
    DYNAMODB,
    "dynamodb",
    "dynamodb",
    "DYNAMODB",
    "DYNAMODB_ENDPOINT",
    "dynamodb"
);
service!(
    EVENTS,
    "events",
    "events",
    "EVENTBRIDGE",
    "EVENTBRIDGE_ENDPOINT",
    "events"
);
service!(ECS, "ecs", "ecs", "ECS", "ECS_ENDPOINT", "ecs");
service!(BATCH, "batch", "batch", "BATCH", "BATCH_ENDPOINT", "batch");
service!(STS, "sts", "sts", "STS", "STS_ENDPOINT", "sts");

/// Resolved endpoint settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Endpoints {
    per_service: BTreeMap<String, String>,
    all: Option<String>,
}

impl Endpoints {
    /// From the config's settings and the process environment.
    pub fn from_env_and(settings: &IntegrationSettings) -> Self {
        Self::from(settings, |k| {
            std::env::var(k).ok().filter(|v| !v.is_empty())
        })
    }

    /// From the settings and the variables `var` answers (tests pass their own).
    pub fn from(settings: &IntegrationSettings, var: impl Fn(&str) -> Option<String>) -> Self {
        let mut per_service = BTreeMap::new();
        for s in [LAMBDA, SNS, SQS, DYNAMODB, EVENTS, ECS, BATCH, STS] {
            let found = settings
                .endpoints
                .get(s.key)
                .cloned()
                .or_else(|| var(&format!("AWS_ENDPOINT_URL_{}", s.env_id)))
                .or_else(|| var(s.sfn_local_env));
            if let Some(url) = found {
                per_service.insert(s.key.to_owned(), url);
            }
        }
        // Keys the table above does not know stay usable for services added later.
        for (k, v) in &settings.endpoints {
            per_service.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let all = settings
            .endpoint_url
            .clone()
            .or_else(|| var("AWS_ENDPOINT_URL"));
        Self { per_service, all }
    }

    /// The base URL of an `aws-sdk` service (`service` as the resource names
    /// it, its model's endpoint prefix and service id) in `region`, and
    /// whether it is AWS itself: the config's `endpoints` under either name,
    /// `AWS_ENDPOINT_URL_<SERVICE_ID>`, the optimized integration's settings
    /// for the same service, then for `sfn` this coordinator itself (`own`),
    /// then `AWS_ENDPOINT_URL`, then AWS.
    pub fn sdk_url(
        &self,
        service: &str,
        endpoint_prefix: &str,
        service_id: &str,
        region: &str,
        own: Option<&str>,
    ) -> (String, bool) {
        let env_id = service_id.to_ascii_uppercase().replace([' ', '-'], "_");
        let found = self
            .per_service
            .get(service)
            .or_else(|| self.per_service.get(endpoint_prefix))
            .cloned()
            .or_else(|| {
                std::env::var(format!("AWS_ENDPOINT_URL_{env_id}"))
                    .ok()
                    .filter(|v| !v.is_empty())
            })
            .or_else(|| (service == "sfn").then(|| own.map(str::to_owned)).flatten())
            .or_else(|| self.all.clone());
        match found {
            Some(u) => (u.trim_end_matches('/').to_owned(), false),
            None => (
                format!("https://{endpoint_prefix}.{region}.amazonaws.com"),
                true,
            ),
        }
    }

    /// The base URL for `service` in `region`, and whether it is AWS itself.
    pub fn url(&self, service: Service, region: &str) -> (String, bool) {
        match self.per_service.get(service.key).or(self.all.as_ref()) {
            Some(u) => (u.trim_end_matches('/').to_owned(), false),
            None => (
                format!("https://{}.{region}.amazonaws.com", service.host),
                true,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_config_then_sdk_variables_then_sfn_local_then_global() {
        let mut settings = IntegrationSettings::default();
        settings
            .endpoints
            .insert("sqs".into(), "http://config-sqs:1".into());
        let vars = |k: &str| match k {
            "AWS_ENDPOINT_URL_SQS" => Some("http://sdk-sqs:2".to_owned()),
            "AWS_ENDPOINT_URL_LAMBDA" => Some("http://sdk-lambda:3/".to_owned()),
            "LAMBDA_ENDPOINT" => Some("http://local-lambda:4".to_owned()),
            "SNS_ENDPOINT" => Some("http://local-sns:5".to_owned()),
            "AWS_ENDPOINT_URL" => Some("http://everything:6".to_owned()),
            _ => None,
        };
        let e = Endpoints::from(&settings, vars);
        assert_eq!(e.url(SQS, "eu-west-1").0, "http://config-sqs:1");
        assert_eq!(e.url(LAMBDA, "eu-west-1").0, "http://sdk-lambda:3");
        assert_eq!(e.url(SNS, "eu-west-1").0, "http://local-sns:5");
        assert_eq!(
            e.url(DYNAMODB, "eu-west-1"),
            ("http://everything:6".to_owned(), false)
        );
        let aws = Endpoints::from(&IntegrationSettings::default(), |_| None);
        assert_eq!(
            aws.url(EVENTS, "eu-west-1"),
            ("https://events.eu-west-1.amazonaws.com".to_owned(), true)
        );
    }
}
