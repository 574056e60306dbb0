namespace MoqLite;

/// <summary>
/// Broadcast paths: '/'-separated segments, normalised so that repeated, leading and trailing
/// slashes disappear. Prefixes match whole segments: <c>foo</c> matches <c>foo/bar</c> but not <c>foobar</c>.
/// </summary>
public static class MoqPath
{
    /// <summary>The most segments a path may have, as in the reference implementation.</summary>
    public const int MaxSegments = 32;

    /// <summary>Normalises <paramref name="path"/>; a path with too many segments is a protocol violation.</summary>
    public static string Normalize(string path, string context = "path")
    {
        ArgumentNullException.ThrowIfNull(path);
        if (IsNormal(path))
        {
            return path;
        }
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length > MaxSegments)
        {
            throw new ProtocolViolationException($"{context}: {parts.Length} segments exceed {MaxSegments}");
        }
        return string.Join('/', parts);
    }

    /// <summary>Joins two paths with one separator.</summary>
    public static string Join(string prefix, string suffix)
    {
        if (prefix.Length == 0)
        {
            return suffix;
        }
        return suffix.Length == 0 ? prefix : string.Concat(prefix, "/", suffix);
    }

    /// <summary>True when <paramref name="path"/> lies at or below <paramref name="prefix"/>.</summary>
    public static bool HasPrefix(string path, string prefix) =>
        prefix.Length == 0
        || (path.StartsWith(prefix, StringComparison.Ordinal)
            && (path.Length == prefix.Length || path[prefix.Length] == '/'));

    /// <summary>The part of <paramref name="path"/> below <paramref name="prefix"/>; null when it is not below it.</summary>
    public static string? StripPrefix(string path, string prefix)
    {
        if (!HasPrefix(path, prefix))
        {
            return null;
        }
        if (prefix.Length == 0)
        {
            return path;
        }
        return path.Length == prefix.Length ? string.Empty : path[(prefix.Length + 1)..];
    }

    private static bool IsNormal(string path)
    {
        if (path.Length == 0)
        {
            return true;
        }
        if (path[0] == '/' || path[^1] == '/' || path.Contains("//", StringComparison.Ordinal))
        {
            return false;
        }
        return path.AsSpan().Count('/') < MaxSegments;
    }
}
