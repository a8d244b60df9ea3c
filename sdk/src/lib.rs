//! Stepwise SDK: the Step Functions wire types (being written).
