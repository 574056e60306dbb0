using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace MoqLite.AspNetCore.Authorization;

/// <summary>
/// Validates a compact JWS (HS256 or ES256) against the configured keys and turns its moq-token claims —
/// <c>root</c>, <c>put</c>, <c>get</c> (a path or a list), <c>exp</c>, <c>nbf</c> — into origin-path rights.
/// </summary>
internal static class MoqTokenValidator
{
    private const int MaxTokenLength = 8192;

    public static bool TryValidate(string token, MoqTokenOptions options, DateTimeOffset now, out MoqRights rights, out string error)
    {
        rights = MoqRights.All;
        try
        {
            error = Validate(token, options, now, out rights) ?? string.Empty;
            return error.Length == 0;
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidOperationException or ArgumentException or KeyNotFoundException or MoqException)
        {
            error = "malformed token";
            return false;
        }
    }

    private static string? Validate(string token, MoqTokenOptions options, DateTimeOffset now, out MoqRights rights)
    {
        rights = MoqRights.All;
        if (token.Length > MaxTokenLength)
        {
            return "token too long";
        }
        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            return "malformed token";
        }
        using var header = JsonDocument.Parse(Decode(parts[0]));
        var algorithm = header.RootElement.GetProperty("alg").GetString();
        var keyId = header.RootElement.TryGetProperty("kid", out var kid) ? kid.GetString() : null;
        var signingInput = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
        var signature = Decode(parts[2]);
        var candidates = options.Keys.Where(k => k.Algorithm == algorithm && (k.KeyId is null || keyId is null || k.KeyId == keyId)).ToList();
        if (candidates.Count == 0)
        {
            return $"no key for algorithm '{algorithm}'" + (keyId is null ? string.Empty : $" and key id '{keyId}'");
        }
        if (!candidates.Any(k => k.Verify(signingInput, signature)))
        {
            return "bad signature";
        }

        using var payload = JsonDocument.Parse(Decode(parts[1]));
        var claims = payload.RootElement;
        var seconds = now.ToUnixTimeSeconds();
        var skew = (long)options.ClockSkew.TotalSeconds;
        if (claims.TryGetProperty("exp", out var exp) && exp.GetDouble() + skew < seconds)
        {
            return "token expired";
        }
        if (claims.TryGetProperty("nbf", out var nbf) && nbf.GetDouble() - skew > seconds)
        {
            return "token not yet valid";
        }
        var root = claims.TryGetProperty("root", out var r) ? MoqPath.Normalize(r.GetString() ?? string.Empty) : string.Empty;
        var put = Grants(claims, "put", root);
        var get = Grants(claims, "get", root);
        if (put.Count == 0 && get.Count == 0)
        {
            return "token grants nothing";
        }
        rights = new MoqRights(put, get);
        return null;
    }

    /// <summary>A <c>put</c>/<c>get</c> claim (one path or many, relative to the root) as absolute prefixes.</summary>
    private static List<string> Grants(JsonElement claims, string name, string root)
    {
        var grants = new List<string>();
        if (!claims.TryGetProperty(name, out var claim))
        {
            return grants;
        }
        if (claim.ValueKind == JsonValueKind.String)
        {
            grants.Add(MoqPath.Join(root, MoqPath.Normalize(claim.GetString()!)));
        }
        else
        {
            foreach (var item in claim.EnumerateArray())
            {
                grants.Add(MoqPath.Join(root, MoqPath.Normalize(item.GetString() ?? throw new FormatException())));
            }
        }
        return grants;
    }

    private static byte[] Decode(string part)
    {
        var bytes = new byte[Base64Url.GetMaxDecodedLength(part.Length)];
        if (Base64Url.DecodeFromChars(part, bytes, out _, out var written) != OperationStatus.Done)
        {
            throw new FormatException("bad base64url");
        }
        return bytes[..written];
    }
}
