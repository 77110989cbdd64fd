// One websocket client of the daemon: the handshake, then a stream of JSON events from its event_queue,
// one write at a time; what the client does not read in time is dropped by the queue, never by the run.
#include "io/api/api_connection.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>

namespace tailor::api_http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

class websocket_session : public server_connection, public std::enable_shared_from_this<websocket_session> {
public:
  websocket_session(beast::tcp_stream stream, http::request<http::string_body> upgrade, std::string run_id,
                    server_core& core, std::shared_ptr<callback_gate> gate)
      : ws_(std::move(stream)), upgrade_(std::move(upgrade)), run_id_(std::move(run_id)), core_(core),
        gate_(std::move(gate)), queue_(std::make_shared<event_queue>(core.options.client_queue)) {}

  ~websocket_session() override {
    core_.websocket_dropped += queue_->dropped_total();
    queue_->close();
  }

  void start() override {
    net::dispatch(ws_.get_executor(), [self = shared_from_this()] { self->accept(); });
  }

  void abort() override {
    if (closed_)
      return;
    end();
    beast::error_code ignored;
    ws_.next_layer().socket().shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    ws_.next_layer().close();
  }

private:
  void accept() {
    // A silent peer is pinged at half the idle time and dropped when it stays silent for all of it.
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.idle_timeout = std::chrono::seconds(60);
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& response) { response.set(http::field::server, "tailord"); }));
    ws_.async_accept(upgrade_, [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  void on_accept(beast::error_code ec) {
    if (ec || closed_)
      return end();
    ++core_.websockets;
    counted_ = true;
    ws_.text(true);
    // The queue wakes this connection on its strand when an event arrives while it has nothing to write.
    queue_->set_wakeup([weak = weak_from_this(), gate = gate_] {
      gate->pass([&] {
        if (auto self = weak.lock())
          net::post(self->ws_.get_executor(), [self] { self->write_next(); });
      });
    });
    core_.backend.subscribe(run_id_, queue_);
    read();
  }

  // Clients send nothing but control frames; reading is how their pongs and their close are noticed.
  void read() {
    ws_.async_read(inbound_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec)
        return self->end();
      self->inbound_.clear();
      self->read();
    });
  }

  void write_next() {
    if (closed_ || writing_)
      return;
    outbound_ = queue_->pop();
    if (!outbound_)
      return;
    writing_ = true;
    ws_.async_write(net::buffer(*outbound_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->writing_ = false;
      if (ec)
        return self->end();
      self->write_next();
    });
  }

  void end() {
    if (closed_)
      return;
    closed_ = true;
    queue_->close();
    if (counted_)
      --core_.websockets;
  }

  websocket::stream<beast::tcp_stream> ws_;
  http::request<http::string_body> upgrade_;
  const std::string run_id_;
  server_core& core_;
  const std::shared_ptr<callback_gate> gate_; // the listener's: no wakeup reaches this after stop()
  const std::shared_ptr<event_queue> queue_;
  event_queue::message outbound_; // the message being written, kept alive until its write completes
  beast::flat_buffer inbound_;
  bool writing_ = false;
  bool closed_ = false;
  bool counted_ = false;
};

} // namespace

void serve_websocket(beast::tcp_stream stream, http::request<http::string_body> upgrade, std::string run_id,
                     server_core& core, http_listener& listener) {
  listener.adopt(std::make_shared<websocket_session>(std::move(stream), std::move(upgrade), std::move(run_id),
                                                     core, listener.gate()));
}

} // namespace tailor::api_http
