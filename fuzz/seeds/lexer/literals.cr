HELP = <<-T
  RedisStore.new(prefix: "x:") isn't
  T
r = /"/
x = %(it's (RedisStore.new))
c = '\u{41}'
{% if flag?(:release) %}
  c.store = RedisStore.new
{% end %}
