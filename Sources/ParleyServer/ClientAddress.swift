import HTTPTypes
import Hummingbird

extension Request {
    /// The client's address, for throttles: the connection's peer, or, when the peer is a load balancer named in
    /// `trustedProxies`, the last address its `X-Forwarded-For` appends (the one the balancer saw). Anyone else's
    /// `X-Forwarded-For` is not believed.
    func clientAddress(context: AppRequestContext, trustedProxies: Set<String>) -> String {
        let peer = context.remoteAddress ?? "local"
        guard trustedProxies.contains(peer), let forwarded = headers[values: .xForwardedFor].last else { return peer }
        let last = forwarded.split(separator: ",").last?.trimmingCharacters(in: .whitespaces) ?? ""
        return last.isEmpty ? peer : last
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
