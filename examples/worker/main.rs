//! The minimal worker: one activity, one handler.
//!
//! ```sh
//! cargo run -p stepwise-coordinator &            # the coordinator on 127.0.0.1:8083
//! AWS_ENDPOINT_URL=http://127.0.0.1:8083 cargo run -p stepwise-examples --bin worker
//! ```
use serde::{Deserialize, Serialize};
use stepwise_sdk::{TaskEvent, TaskFailure, service_fn};

#[derive(Deserialize)]
struct Order {
    amount: f64,
}

#[derive(Serialize)]
struct Receipt {
    charged: f64,
}

async fn charge(event: TaskEvent<Order>) -> Result<Receipt, TaskFailure> {
    if event.payload.amount > 1000.0 {
        return Err(TaskFailure::new(
            "Payment.Declined",
            "amount above the card limit",
        ));
    }
    Ok(Receipt {
        charged: event.payload.amount,
    })
}

#[tokio::main]
async fn main() -> Result<(), stepwise_sdk::worker::WorkerError> {
    // A name is created (idempotently) on start; an ARN is used as is.
    stepwise_sdk::run("charge-card", service_fn(charge)).await
}
