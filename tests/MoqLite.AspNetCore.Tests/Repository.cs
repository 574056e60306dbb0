namespace MoqLite.AspNetCore.Tests;

/// <summary>Paths in the repository the tests run from (the folder holding MoqLite.AspNetCore.sln).</summary>
internal static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>The repository path <paramref name="relative"/>, which must exist.</summary>
    public static string Path(string relative)
    {
        var full = System.IO.Path.Combine(Root, relative);
        if (!File.Exists(full) && !Directory.Exists(full))
        {
            throw new InvalidOperationException($"{relative} not found in {Root}");
        }
        return full;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "MoqLite.AspNetCore.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("MoqLite.AspNetCore.sln not found above " + AppContext.BaseDirectory);
    }
}
