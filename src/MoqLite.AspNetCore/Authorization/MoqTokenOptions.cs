namespace MoqLite.AspNetCore.Authorization;

/// <summary>
/// Token authentication in the manner of moq-relay: a JWT in the query string (browsers cannot set headers on
/// WebSocket or WebTransport requests) whose <c>root</c>, <c>put</c> and <c>get</c> claims grant publish and
/// subscribe rights by path prefix.
/// </summary>
public sealed class MoqTokenOptions
{
    /// <summary>The query parameter carrying the token. Default <c>jwt</c>.</summary>
    public string QueryParameter { get; set; } = "jwt";

    /// <summary>
    /// When true, a client without a valid token (and without rights from its claims) is refused with 401.
    /// When false, such a client may publish and subscribe anywhere below the endpoint.
    /// </summary>
    public bool Required { get; set; }

    /// <summary>Keys that may sign tokens (HS256 secrets and ES256 public keys), as JSON Web Keys.</summary>
    public IList<MoqTokenKey> Keys { get; } = [];

    /// <summary>Tolerance for clock differences when checking <c>exp</c> and <c>nbf</c>. Default 30 s.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);
}
