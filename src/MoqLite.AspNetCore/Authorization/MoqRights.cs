namespace MoqLite.AspNetCore.Authorization;

/// <summary>
/// What one client may do: publish at or below any of <see cref="Publish"/>, discover and subscribe at or below any
/// of <see cref="Subscribe"/>. Prefixes are origin paths (the namespace the endpoint serves), matched by whole segments.
/// </summary>
public sealed record MoqRights(IReadOnlyList<string> Publish, IReadOnlyList<string> Subscribe)
{
    /// <summary>Everything: publish and subscribe anywhere.</summary>
    public static MoqRights All { get; } = new([string.Empty], [string.Empty]);

    /// <summary>True when <paramref name="path"/> lies at or below a publish prefix.</summary>
    public bool MayPublish(string path) => Covers(Publish, path);

    /// <summary>True when <paramref name="path"/> lies at or below a subscribe prefix.</summary>
    public bool MaySubscribe(string path) => Covers(Subscribe, path);

    /// <summary>True when some grant reaches into the subtree at <paramref name="root"/>.</summary>
    internal bool Reaches(string root) =>
        Publish.Concat(Subscribe).Any(prefix => MoqPath.HasPrefix(prefix, root) || MoqPath.HasPrefix(root, prefix));

    private static bool Covers(IReadOnlyList<string> prefixes, string path)
    {
        foreach (var prefix in prefixes)
        {
            if (MoqPath.HasPrefix(path, prefix))
            {
                return true;
            }
        }
        return false;
    }
}
