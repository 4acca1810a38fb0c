Session.configure do |config|
  config.store = RedisStore.new(
    url: ENV["REDIS_URL"]? || "redis://localhost:6379",
    prefix: "myapp:session:",
    ttl: 1.hour
  )
end
