using Microsoft.Extensions.DependencyInjection;

namespace MoqLite.AspNetCore;

/// <summary>Returned by <c>AddMoqLite</c> for further MOQ registrations, such as server-side broadcasts.</summary>
public interface IMoqLiteBuilder
{
    /// <summary>The application's services.</summary>
    IServiceCollection Services { get; }
}

internal sealed class MoqLiteBuilder(IServiceCollection services) : IMoqLiteBuilder
{
    public IServiceCollection Services { get; } = services;
}

/// <summary>Present in DI once <c>AddMoqLite</c> ran; <c>MapMoqLite</c> checks for it.</summary>
internal sealed class MoqLiteMarkerService;
