# config.store = DatabaseStore.new
puts "RedisStore.new(prefix: 'x')"
if ENV["AZU_ENV"]? == "production"
  c.store = Session::ClusteredRedisStore(UserSession).new(key_prefix: "#{ENV.fetch("APP", "a")}:s:")
elsif ENV["AZU_ENV"]? != "test"
  c.store = Session::DatabaseStore(UserSession).new(table_name: "user_sessions")
else
  c.store = MemoryStore.new
end
c.store = Session::CookieStore(UserSession).provider(key: 'k')
