// Writing and reading multipart/form-data (RFC 7578): parts between boundary lines, each with its headers.
#include "io/teacher/multipart_form.hpp"

#include "io/common/text.hpp"

namespace tailor {
namespace {

constexpr std::string_view crlf = "\r\n";

// The value of `parameter` in a header value like `form-data; name="file"; filename="a.jsonl"`: quoted or
// bare, matched case-insensitively; empty when absent.
std::string parameter_of(std::string_view header, std::string_view parameter) {
  const std::string lowered = text::to_lower(header);
  const std::string wanted = text::to_lower(parameter) + "=";
  for (std::size_t at = lowered.find(wanted); at != std::string::npos; at = lowered.find(wanted, at + 1)) {
    // A whole parameter name only: `filename=` must not match a search for `name=`.
    if (at > 0 && lowered[at - 1] != ';' && !text::is_space(lowered[at - 1]))
      continue;
    std::string_view value = header.substr(at + wanted.size());
    if (value.starts_with('"')) {
      value.remove_prefix(1);
      return std::string{value.substr(0, value.find('"'))};
    }
    return std::string{text::trim(value.substr(0, value.find(';')))};
  }
  return {};
}

result<form_part> parse_part(std::string_view part, std::size_t number) {
  const std::string where = "part " + std::to_string(number);
  const auto end_of_headers = part.find("\r\n\r\n");
  if (end_of_headers == std::string_view::npos)
    return problem{where + " has no blank line after its headers"};
  form_part parsed;
  std::string_view headers = part.substr(0, end_of_headers);
  parsed.content = std::string{part.substr(end_of_headers + 4)};
  while (!headers.empty()) {
    const auto end = headers.find(crlf);
    const std::string_view line = headers.substr(0, end);
    headers = end == std::string_view::npos ? std::string_view{} : headers.substr(end + 2);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    const std::string name = text::to_lower(text::trim(line.substr(0, colon)));
    const std::string_view value = text::trim(line.substr(colon + 1));
    if (name == "content-disposition") {
      parsed.name = parameter_of(value, "name");
      parsed.filename = parameter_of(value, "filename");
    } else if (name == "content-type") {
      parsed.content_type = std::string{value};
    }
  }
  if (parsed.name.empty())
    return problem{where + " has no name in its Content-Disposition"};
  return parsed;
}

} // namespace

form_body make_form_body(const std::vector<form_part>& parts, std::string_view boundary) {
  form_body out;
  out.content_type = "multipart/form-data; boundary=" + std::string{boundary};
  for (const form_part& part : parts) {
    out.body += "--";
    out.body += boundary;
    out.body += crlf;
    out.body += "Content-Disposition: form-data; name=\"" + part.name + "\"";
    if (!part.filename.empty())
      out.body += "; filename=\"" + part.filename + "\"";
    out.body += crlf;
    if (!part.content_type.empty())
      out.body += "Content-Type: " + part.content_type + std::string{crlf};
    out.body += crlf;
    out.body += part.content;
    out.body += crlf;
  }
  out.body += "--";
  out.body += boundary;
  out.body += "--";
  out.body += crlf;
  return out;
}

result<std::vector<form_part>> parse_form_body(std::string_view content_type, std::string_view body) {
  if (!text::to_lower(content_type).starts_with("multipart/form-data"))
    return problem{"the body must be multipart/form-data, got `" + std::string{content_type} + "`"};
  const std::string boundary = parameter_of(content_type, "boundary");
  if (boundary.empty())
    return problem{"no boundary in the Content-Type `" + std::string{content_type} + "`"};
  const std::string delimiter = "--" + boundary;
  auto at = body.find(delimiter);
  if (at == std::string_view::npos)
    return problem{"the body holds no part (no line `" + delimiter + "`)"};
  std::vector<form_part> parts;
  for (;;) {
    at += delimiter.size();
    if (body.substr(at).starts_with("--"))
      return parts; // the closing delimiter
    if (!body.substr(at).starts_with(crlf))
      return problem{"a boundary line of part " + std::to_string(parts.size() + 1) +
                     " does not end the line"};
    at += crlf.size();
    const std::string next_delimiter = std::string{crlf} + delimiter;
    const auto end = body.find(next_delimiter, at);
    if (end == std::string_view::npos)
      return problem{"part " + std::to_string(parts.size() + 1) + " is not closed by a boundary line"};
    auto part = parse_part(body.substr(at, end - at), parts.size() + 1);
    if (!part)
      return part.error();
    parts.push_back(std::move(part).value());
    at = end + crlf.size();
  }
}

} // namespace tailor
