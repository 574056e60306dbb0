namespace MoqLite.AspNetCore.Tests;

/// <summary>
/// Tests that start Chromium or whole server processes take turns: on a 2-core machine two of them at once starve
/// each other's timers and handshakes (a WebTransport connect, a page waiting for frames) into timeouts.
/// </summary>
[CollectionDefinition(Name)]
public sealed class BrowsersAndProcesses
{
    public const string Name = "browsers and processes";
}
