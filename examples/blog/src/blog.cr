# The blog's main file: `crystal run src/blog.cr` serves it on Azu's default port.
require "azu"

module Blog
  include Azu

  VERSION = "0.1.0"

  struct HomeRequest
    include Azu::Request
  end

  struct HomePage
    include Azu::Response

    def render
      "Welcome to the blog!"
    end
  end

  struct HomeEndpoint
    include Azu::Endpoint(HomeRequest, HomePage)

    get "/"

    def call : HomePage
      HomePage.new
    end
  end
end

Blog.start [
  Azu::Handler::Rescuer.new,
  Azu::Handler::Logger.new,
]
