using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoqLite.Model;

namespace MoqLite.AspNetCore.Broadcasts;

/// <summary>The broadcasts declared with <c>AddBroadcast</c>, collected through options.</summary>
internal sealed class DeclaredBroadcasts
{
    public List<MoqBroadcastBuilder> Broadcasts { get; } = [];
}

/// <summary>Publishes the declared broadcasts into the origin while the host runs.</summary>
internal sealed class DeclaredBroadcastsService(
    IOptions<DeclaredBroadcasts> declared, MoqOrigin origin, IServiceScopeFactory scopes, ILoggerFactory loggers) : IHostedService
{
    private List<MoqBroadcast> _published = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var logger = loggers.CreateLogger("MoqLite.AspNetCore.Broadcasts");
        var published = new List<MoqBroadcast>();
        foreach (var declaration in declared.Value.Broadcasts)
        {
            var broadcast = new MoqBroadcast(new HandlerTrackSource(declaration, scopes, logger));
            origin.Publish(declaration.Path, broadcast);
            published.Add(broadcast);
        }
        Interlocked.Exchange(ref _published, published);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        // Hosts may stop twice (a test factory and its application both do): take the list once.
        foreach (var broadcast in Interlocked.Exchange(ref _published, []))
        {
            broadcast.Close();
        }
        return Task.CompletedTask;
    }
}
