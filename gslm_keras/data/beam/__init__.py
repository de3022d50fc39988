"""The dataset build on Apache Beam (`build_dataset --engine=beam`): the same
contract as the streaming builder, for inputs beyond one machine."""
