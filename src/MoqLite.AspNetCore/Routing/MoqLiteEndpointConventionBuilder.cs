using Microsoft.AspNetCore.Builder;

namespace MoqLite.AspNetCore;

/// <summary>
/// Returned by <c>MapMoqLite</c> so that <c>RequireAuthorization</c>, <c>RequireCors</c> and metadata apply to the
/// MOQ endpoint as to any other.
/// </summary>
public sealed class MoqLiteEndpointConventionBuilder : IEndpointConventionBuilder
{
    private readonly IEndpointConventionBuilder _inner;

    internal MoqLiteEndpointConventionBuilder(IEndpointConventionBuilder inner) => _inner = inner;

    /// <inheritdoc/>
    public void Add(Action<EndpointBuilder> convention) => _inner.Add(convention);

    /// <inheritdoc/>
    public void Finally(Action<EndpointBuilder> finallyConvention) => _inner.Finally(finallyConvention);
}
