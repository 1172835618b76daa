//! placeholder: being written
#[derive(Debug)] pub struct RedisStore;
