using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MoqLite.AspNetCore;
using MoqLite.AspNetCore.Broadcasts;
using MoqLite.AspNetCore.Endpoint;
using MoqLite.Diagnostics;
using MoqLite.Model;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers MOQ Lite services.</summary>
public static class MoqLiteServiceCollectionExtensions
{
    /// <summary>
    /// Adds the MOQ Lite server: the relay <see cref="MoqOrigin"/> (inject it anywhere to publish, discover and
    /// subscribe), the <c>MoqLite</c> meter and options validated at start-up.
    /// </summary>
    public static IMoqLiteBuilder AddMoqLite(this IServiceCollection services, Action<MoqLiteOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<MoqLiteMarkerService>();
        services.AddMetrics();
        services.AddLogging();
        services.TryAddSingleton<MoqOrigin>();
        services.TryAddSingleton(sp => new MoqMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton<MoqLiteEndpointHandler>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MoqLiteOptions>, MoqLiteOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, DeclaredBroadcastsService>());
        var options = services.AddOptions<MoqLiteOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }
        return new MoqLiteBuilder(services);
    }

    /// <summary>
    /// Declares a server-side broadcast at <paramref name="path"/> whose tracks are produced by DI-resolved handlers,
    /// for example <c>AddBroadcast("clock", b =&gt; b.AddTrack&lt;ClockHandler&gt;("seconds"))</c>.
    /// </summary>
    public static IMoqLiteBuilder AddBroadcast(this IMoqLiteBuilder builder, string path, Action<MoqBroadcastBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(configure);
        var declaration = new MoqBroadcastBuilder(MoqLite.MoqPath.Normalize(path));
        configure(declaration);
        builder.Services.Configure<DeclaredBroadcasts>(declared =>
        {
            if (declared.Broadcasts.Any(b => b.Path == declaration.Path))
            {
                throw new InvalidOperationException($"A broadcast is already declared at '{declaration.Path}'.");
            }
            declared.Broadcasts.Add(declaration);
        });
        return builder;
    }
}
