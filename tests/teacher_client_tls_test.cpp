// The client's https path against a loopback TLS server with a self-signed certificate: verification
// refuses it by default, and the explicit opt-out for local endpoints accepts it.
#include "io/teacher/openai_client.hpp"
#include "tests/teacher_test_support.hpp"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <thread>

using namespace tailor;
using namespace tailor::testing;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;

// A P-256 key and a one-hour certificate for "localhost", signed by itself, loaded into a server context.
void use_self_signed_certificate(ssl::context& context) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key);
  X509* certificate = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), 1);
  X509_gmtime_adj(X509_getm_notBefore(certificate), 0);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 3600);
  X509_set_pubkey(certificate, key);
  X509_NAME* name = X509_get_subject_name(certificate);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"),
                             -1, -1, 0);
  X509_set_issuer_name(certificate, name);
  REQUIRE(X509_sign(certificate, key, EVP_sha256()) > 0);
  REQUIRE(SSL_CTX_use_certificate(context.native_handle(), certificate) == 1);
  REQUIRE(SSL_CTX_use_PrivateKey(context.native_handle(), key) == 1);
  X509_free(certificate);
  EVP_PKEY_free(key);
}

// Serves `connections` TLS connections one after the other, answering each request with a completion.
class tls_teacher {
public:
  explicit tls_teacher(int connections) : context_(ssl::context::tls_server), acceptor_(io_) {
    use_self_signed_certificate(context_);
    const asio::ip::tcp::endpoint local(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(local.protocol());
    acceptor_.bind(local);
    acceptor_.listen();
    thread_ = std::thread([this, connections] {
      for (int i = 0; i < connections; ++i)
        serve_one();
      finished_ = true;
    });
  }
  // A test that failed early leaves the thread waiting in accept: empty connections let it finish.
  ~tls_teacher() {
    while (!finished_) {
      asio::ip::tcp::socket knock(io_);
      boost::system::error_code ignored;
      knock.connect({asio::ip::make_address("127.0.0.1"), port()}, ignored);
      knock.close(ignored);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

private:
  void serve_one() {
    beast::ssl_stream<asio::ip::tcp::socket> stream(io_, context_);
    boost::system::error_code ec;
    acceptor_.accept(stream.next_layer(), ec);
    if (ec)
      return;
    stream.handshake(ssl::stream_base::server, ec);
    if (ec)
      return; // the verifying client hangs up here
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::read(stream, buffer, request, ec);
    if (ec)
      return;
    chat_response answer{"tls-model", {"over TLS"}, {3, 2}};
    http::response<http::string_body> response(http::status::ok, 11);
    response.set(http::field::content_type, "application/json");
    response.body() = to_json(answer).dump();
    response.keep_alive(false);
    response.prepare_payload();
    http::write(stream, response, ec);
    stream.shutdown(ec);
  }

  asio::io_context io_;
  ssl::context context_;
  asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

result<chat_response> ask_over_tls(std::uint16_t port, bool verify) {
  openai_client_options options;
  options.base_url = "https://127.0.0.1:" + std::to_string(port) + "/v1";
  options.api_key_env.clear();
  options.verify_tls = verify;
  options.max_tries = 1;
  options.timeout = std::chrono::seconds(20);
  auto client = make_client(options);
  outcomes got;
  client->complete(ask("Is this encrypted?"), got.callback());
  REQUIRE(got.wait_for(1));
  return std::move(got.take().front());
}

} // namespace

TEST_CASE("https verifies the server's certificate unless told not to", "[teacher_client]") {
  tls_teacher server(2);
  auto refused = ask_over_tls(server.port(), /*verify=*/true);
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message,
             Catch::Contains("TLS handshake failed") && Catch::Contains("certificate verify failed"));

  auto accepted = ask_over_tls(server.port(), /*verify=*/false);
  INFO((accepted ? std::string{} : accepted.error().message));
  REQUIRE(accepted);
  CHECK(accepted->choices == std::vector<std::string>{"over TLS"});
  CHECK(accepted->usage == chat_usage{3, 2});
}
